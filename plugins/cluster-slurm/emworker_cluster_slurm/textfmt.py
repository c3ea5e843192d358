"""The ``-h -o`` text formats of sinfo and squeue: the fallback that works on every Slurm."""

from __future__ import annotations

from .hostlist import expand_hostlist
from .model import JobInfo, NodeInfo, count_gpus

SINFO_TEXT = ("sinfo", "-h", "-N", "-o", "%N|%P|%T|%C|%G|%E")
SQUEUE_TEXT = ("squeue", "-h", "-o", "%i|%u|%T|%P|%C|%D|%N")


class ParseError(ValueError):
    """Output that does not have the shape the command's format promises."""


def _int(value: str, what: str, line: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ParseError(f"{what} is not a number in line {line!r}") from None


def parse_sinfo_text(text: str) -> list[NodeInfo]:
    """Lines ``node|partition[*]|state|A/I/O/T|gres|reason`` (one per node and partition)."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("|", 5)
        if len(fields) != 6:
            raise ParseError(f"expected 6 fields in sinfo line {line!r}")
        name, partition, state, cpus, gres, reason = fields
        counts = cpus.split("/")
        if len(counts) != 4:
            raise ParseError(f"CPUs A/I/O/T expected in sinfo line {line!r}")
        rows.append(NodeInfo(name=name, state=state, total=_int(counts[3], "total CPUs", line),
                             alloc=_int(counts[0], "allocated CPUs", line),
                             partitions=[partition.rstrip("*")], gpus=count_gpus(gres),
                             reason="" if reason == "none" else reason.strip()))
    return rows


def parse_squeue_text(text: str) -> list[JobInfo]:
    """Lines ``jobid|user|state|partition[,partition]|cpus|nodecount|nodelist``."""
    jobs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 7:
            raise ParseError(f"expected 7 fields in squeue line {line!r}")
        jobid, user, state, partitions, cpus, _count, nodelist = fields
        jobs.append(JobInfo(jobid=jobid, user=user, state=state,
                            partitions=partitions.split(","), cpus=_int(cpus, "CPUs", line),
                            nodes=expand_hostlist(nodelist)))
    return jobs
