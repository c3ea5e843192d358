"""One reading of the cluster: the ``queues`` JSON EMhub's "Cluster Queues" page reads.

Shape (per host)::

    {"status": "ok", "max": 64, "run": 24, "closed": false,
     "users": {"alice": [{"jobid": "5001", "cores": 16}]}}

plus ``reason`` for hosts that do not take jobs. Queue-level figures (pending jobs,
queue status, queues skipped) travel beside it in the same event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from emhub_worker_core import CommandError

from .lsf import LSFClient
from .parse import SAFE_NAME, HostState, Job, cores_per_host, select_hosts

#: Why a host does not take jobs, from the bhosts status (LSF documentation wording).
HOST_REASONS = {
    "closed_Adm": "closed by an LSF administrator",
    "closed_Busy": "a load index is past its threshold",
    "closed_Excl": "running an exclusive job",
    "closed_Full": "all job slots are in use",
    "closed_LIM": "LIM unreachable, sbatchd running",
    "closed_Lock": "locked by lsadmin",
    "closed_Wind": "outside its dispatch window",
    "closed_EGO": "closed by EGO",
    "closed_RC": "resource connector host being provisioned",
    "unavail": "host down or LIM and sbatchd unreachable",
    "unreach": "sbatchd unreachable",
}


@dataclass
class Snapshot:
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    queue_status: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def host_entry(state: HostState) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": state.status, "max": state.max, "run": state.run,
                             "closed": state.status != "ok", "users": {}}
    if state.status != "ok":
        entry["reason"] = HOST_REASONS.get(state.status, state.status)
    return entry


def add_jobs(users_by_host: dict[str, dict[str, list[dict[str, Any]]]], jobs: list[Job]) -> int:
    """Place running jobs on their hosts (merging users across queues); return pending count."""
    pending = 0
    for job in jobs:
        if job.stat == "PEND" or not job.exec_host.strip():
            pending += 1
            continue
        for host, cores in cores_per_host(job.exec_host).items():
            listed = users_by_host.setdefault(host, {}).setdefault(job.user, [])
            if all(j["jobid"] != job.jobid for j in listed):
                listed.append({"jobid": job.jobid, "cores": cores})
    return pending


def choose_queues(all_queues: dict[str, str], names: Optional[list[str]],
                  pattern: str) -> list[str]:
    """Queues named in the task, or those whose name contains ``pattern``."""
    if names:
        return [q for q in names if q in all_queues]
    return [q for q in all_queues if pattern and pattern in q]


def take_snapshot(lsf: LSFClient, names: Optional[list[str]], pattern: str,
                  log: Callable[[str], None]) -> Snapshot:
    """Read queues, jobs and hosts; raise CommandError/LSFOutputError on a failed command."""
    snap = Snapshot()
    all_queues = lsf.queues()
    chosen = choose_queues(all_queues, names, pattern)
    for missing in sorted(set(names or []) - set(all_queues)):
        snap.notes.append(f"queue {missing}: not known to bqueues")
    users_by_host: dict[str, dict[str, list[dict[str, Any]]]] = {}
    host_groups: dict[Optional[str], list[HostState]] = {}  # one bhosts call per group
    for queue in chosen:
        if not SAFE_NAME.match(queue):  # never hand LSF an odd name as an argument
            snap.notes.append(f"queue {queue!r}: skipped (unsafe name)")
            continue
        try:
            detail = lsf.queue_detail(queue)
        except CommandError as exc:  # one broken queue must not hide the others
            snap.notes.append(f"queue {queue}: skipped ({exc.stderr or exc})")
            log(f"skipping queue {queue}: {exc}")
            continue
        snap.queue_status[queue] = all_queues[queue] or detail.status
        snap.pending[queue] = add_jobs(users_by_host, lsf.jobs(queue))
        selection = select_hosts(detail.host_tokens)
        snap.notes.extend(f"queue {queue}: host token {t} not queried"
                          for t in selection.ignored)
        groups: list[Optional[str]] = [None] if selection.whole_cluster else []
        for group in groups + list(selection.names):
            if group not in host_groups:
                host_groups[group] = lsf.hosts(group)
            for state in host_groups[group]:  # "~host" excludes only within this queue
                if state.name not in selection.excluded and state.name not in snap.hosts:
                    snap.hosts[state.name] = host_entry(state)
    for host, entry in snap.hosts.items():
        entry["users"] = users_by_host.get(host, {})
    return snap
