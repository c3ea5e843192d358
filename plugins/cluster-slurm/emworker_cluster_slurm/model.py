"""Slurm nodes and jobs reduced to what the Cluster Queues page shows, and the event made of them.

The ``queues`` shape is the one EMhub's page already reads from the LSF handler:
``{node: {"status", "max", "run", "users": {user: [{"jobid", "cores"}]}}}``; the extra keys
(``state``, ``partitions``, ``gpus``, ``reason``) are ignored by the page and useful to an admin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

# Long state names (text) or state/flag tokens (JSON) -> the LSF-like status the page colours.
_UNAVAIL = {"DOWN", "FAIL", "FAILING", "NOT_RESPONDING", "POWERED_DOWN", "POWERING_DOWN",
            "POWER_DOWN", "POWERING_UP", "INVAL", "INVALID", "FUTURE", "UNKNOWN", "NO_RESPOND"}
_ADMIN = {"DRAIN", "DRAINED", "DRAINING", "MAINT", "MAINTENANCE", "RESERVED", "BLOCKED"}
# Suffixes sinfo appends to a state: * not responding, ~ powered off, % powering down, $ maint.
_UNAVAIL_SUFFIX, _ADMIN_SUFFIX = set("*~%"), set("$")
ACTIVE_JOB_STATES = {"RUNNING", "COMPLETING", "SUSPENDED"}


def state_tokens(state: str) -> tuple[set[str], set[str]]:
    """``"draining*"`` -> ({"DRAINING"}, {"*"}); ``"ALLOCATED+DRAIN"`` -> both words, no suffix."""
    suffixes = {c for c in state if c in "*~#!%$@^-+"}
    words = re.split(r"[*~#!%$@^+\-\s,]+", state.upper())
    return {w for w in words if w}, suffixes


def node_status(state: str, alloc: int, total: int) -> str:
    """Map a Slurm node state to ``ok | closed_Full | closed_Adm | unavail`` (spec §4.1)."""
    words, suffixes = state_tokens(state)
    if words & _UNAVAIL or suffixes & _UNAVAIL_SUFFIX:
        return "unavail"
    if words & _ADMIN or suffixes & _ADMIN_SUFFIX:
        return "closed_Adm"
    if "ALLOCATED" in words or (total > 0 and alloc >= total):
        return "closed_Full"
    return "ok"


def count_gpus(gres: str) -> int | None:
    """GPUs in a gres string such as ``gpu:2``, ``gpu:a100:4(S:0-1)``, ``gpu:1(IDX:0)``."""
    found = None
    for item in gres.split(","):
        match = re.match(r"gpu(?::[^:(]+)?:(\d+)", item.strip())
        if match:
            found = (found or 0) + int(match.group(1))
    return found


@dataclass
class NodeInfo:
    name: str
    state: str
    total: int
    alloc: int
    partitions: list[str] = field(default_factory=list)
    gpus: int | None = None
    gpus_used: int | None = None
    reason: str = ""


@dataclass
class JobInfo:
    jobid: str
    user: str
    state: str
    partitions: list[str]
    cpus: int
    nodes: list[str]
    #: Exact cores per node when the scheduler said so; else ``cpus`` is split evenly.
    cores_per_node: dict[str, int] = field(default_factory=dict)

    def cores_on(self, node: str) -> int:
        if len(self.nodes) == 1:
            return self.cpus
        if node in self.cores_per_node:
            return self.cores_per_node[node]
        return max(1, self.cpus // max(1, len(self.nodes)))


def merge_nodes(rows: Iterable[NodeInfo]) -> dict[str, NodeInfo]:
    """One record per node; sinfo -N repeats a node once per partition."""
    nodes: dict[str, NodeInfo] = {}
    for row in rows:
        seen = nodes.setdefault(row.name, row)
        if seen is not row:
            seen.partitions.extend(p for p in row.partitions if p not in seen.partitions)
    return nodes


def select_partitions(all_names: Iterable[str], wanted: list[str], pattern: str) -> set[str]:
    """Partitions named in ``wanted`` (if any), else those containing ``pattern``."""
    names = set(all_names)
    if wanted:
        return names & set(wanted)
    return {n for n in names if pattern in n}


def build_event(nodes: dict[str, NodeInfo], jobs: list[JobInfo],
                wanted: set[str]) -> dict[str, Any]:
    """One poll's event: ``queues`` for the page, plus pending jobs and nodes out of service."""
    queues: dict[str, Any] = {}
    for node in sorted(nodes.values(), key=lambda n: n.name):
        parts = [p for p in node.partitions if p in wanted]
        if not parts:
            continue
        entry: dict[str, Any] = {"status": node_status(node.state, node.alloc, node.total),
                                 "max": node.total, "run": node.alloc, "users": {},
                                 "state": node.state, "partitions": parts}
        if node.gpus is not None:
            entry["gpus"] = node.gpus
            if node.gpus_used is not None:
                entry["gpus_used"] = node.gpus_used
        if node.reason:
            entry["reason"] = node.reason
        queues[node.name] = entry
    pending: dict[str, int] = {p: 0 for p in sorted(wanted)}
    for job in jobs:
        if not wanted.intersection(job.partitions):
            continue
        if job.state == "PENDING":
            for part in wanted.intersection(job.partitions):
                pending[part] += 1
        elif job.state in ACTIVE_JOB_STATES:
            for host in job.nodes:
                if host in queues:
                    queues[host]["users"].setdefault(job.user, []).append(
                        {"jobid": job.jobid, "cores": job.cores_on(host), "state": job.state})
    down = {name: {"status": q["status"], "reason": q.get("reason", "")}
            for name, q in queues.items() if q["status"] in ("unavail", "closed_Adm")}
    return {"maxlen": 2, "queues": queues, "pending": pending, "nodes_down": down}
