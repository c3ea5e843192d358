"""``squeue --json`` / ``sinfo --json`` of Slurm 22.05 (plain values) and 23.02+ (wrapped numbers,
``job_state`` and node ``state`` as lists). Filters are ignored with ``--json`` before 23.11 and
finished jobs are listed too, so the caller filters by partition and state itself."""

from __future__ import annotations

import json
from typing import Any

from .hostlist import expand_hostlist
from .model import JobInfo, NodeInfo, count_gpus
from .textfmt import ParseError

SINFO_JSON = ("sinfo", "--json")
SQUEUE_JSON = ("squeue", "--json")
# From 23.02 sinfo --json groups nodes; scontrol gives one record per node again.
NODES_JSON = ("scontrol", "show", "nodes", "--json")


def number(value: Any) -> int | None:
    """``16`` or ``{"set": true, "infinite": false, "number": 16}`` -> 16; unset -> None."""
    if isinstance(value, dict):
        if not value.get("set", True) or value.get("infinite"):
            return None
        value = value.get("number")
    return int(value) if isinstance(value, (int, float)) else None


def _words(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value else []


def load(text: str, key: str) -> list[dict[str, Any]]:
    """The ``key`` list of a Slurm JSON document; Slurm's own ``errors`` become a ParseError."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ParseError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ParseError("JSON document is not an object")
    errors = data.get("errors") or []
    if errors:
        raise ParseError(f"Slurm reported errors: {json.dumps(errors)[:500]}")
    records = data.get(key)
    if not isinstance(records, list):
        raise ParseError(f"no {key!r} list in the JSON document")
    return records


def parse_nodes_json(text: str) -> list[NodeInfo]:
    """``{"nodes": [...]}`` from ``sinfo --json`` (22.05) or ``scontrol show nodes --json``."""
    nodes = []
    for record in load(text, "nodes"):
        words = _words(record.get("state")) + _words(record.get("state_flags"))
        nodes.append(NodeInfo(
            name=str(record.get("name", "")), state="+".join(w.upper() for w in words),
            total=number(record.get("cpus")) or 0, alloc=number(record.get("alloc_cpus")) or 0,
            partitions=[str(p) for p in record.get("partitions") or []],
            gpus=count_gpus(str(record.get("gres") or "")),
            gpus_used=count_gpus(str(record.get("gres_used") or "")),
            reason=str(record.get("reason") or "")))
    return nodes


def _jobid(record: dict[str, Any]) -> str:
    task = number(record.get("array_task_id"))
    if task is not None and number(record.get("array_job_id")):
        return f"{number(record.get('array_job_id'))}_{task}"
    pending_tasks = record.get("array_task_string") or ""
    base = str(number(record.get("job_id")))
    return f"{base}_[{pending_tasks}]" if pending_tasks else base


def _cores_per_node(resources: dict[str, Any]) -> dict[str, int]:
    """Exact cores per node: 24.05+ ``nodes.allocation``, 22.05/23.x ``allocated_nodes`` cores."""
    nodes = resources.get("nodes")
    if isinstance(nodes, dict):
        return {str(a.get("name")): number((a.get("cpus") or {}).get("count")) or 0
                for a in nodes.get("allocation") or []}
    cores: dict[str, int] = {}
    allocated = resources.get("allocated_nodes") or []
    for item in allocated.values() if isinstance(allocated, dict) else allocated:
        sockets = item.get("sockets") or {}
        count = sum(len(s.get("cores") or {}) for s in sockets.values())
        if item.get("nodename") and count:
            cores[str(item["nodename"])] = count
    return cores


def parse_squeue_json(text: str) -> list[JobInfo]:
    jobs = []
    for record in load(text, "jobs"):
        states = _words(record.get("job_state"))
        resources = record.get("job_resources") or {}
        jobs.append(JobInfo(
            jobid=_jobid(record), user=str(record.get("user_name", "")),
            state=states[0] if states else "UNKNOWN",
            partitions=str(record.get("partition") or "").split(","),
            cpus=number(record.get("cpus")) or 0,
            nodes=expand_hostlist(str(record.get("nodes") or "")),
            cores_per_node=_cores_per_node(resources) if isinstance(resources, dict) else {}))
    return jobs
