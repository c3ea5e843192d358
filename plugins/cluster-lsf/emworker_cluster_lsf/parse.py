"""Parsers for the LSF command outputs the handler reads (pure functions, no I/O).

Every parser raises :class:`LSFOutputError` on output it cannot understand, so the
handler can report the command instead of crashing on a ``KeyError`` deep down.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Union

Count = Union[int, str]  # bhosts prints "-" for an unlimited MAX: keep such strings as they are

#: What ``bjobs`` says (on stderr, usually with a non-zero exit) when a queue is empty.
NO_JOBS_MARKERS = ("no unfinished job found", "no job found")


class LSFOutputError(ValueError):
    """Output that does not have the documented shape."""


@dataclass(frozen=True)
class Job:
    user: str
    jobid: str
    stat: str
    queue: str
    exec_host: str


@dataclass(frozen=True)
class HostState:
    name: str
    status: str
    max: Count
    run: Count


@dataclass
class QueueDetail:
    """What ``bqueues -l`` tells about one queue."""

    status: str = ""
    host_tokens: list[str] = field(default_factory=list)


def as_count(text: Any) -> Count:
    """``"64"`` -> 64; anything else (``"-"``) stays as the original string."""
    value = str(text).strip()
    return int(value) if value.isdigit() else value


def load_records(stdout: str, command: str) -> list[dict[str, Any]]:
    """The ``RECORDS`` list of an LSF ``-json`` output (``[]`` for an empty answer)."""
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise LSFOutputError(f"{command}: output is not JSON ({exc.msg})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("RECORDS", []), list):
        raise LSFOutputError(f"{command}: JSON without a RECORDS list")
    records = data.get("RECORDS", [])
    if not all(isinstance(r, dict) for r in records):
        raise LSFOutputError(f"{command}: RECORDS entries are not objects")
    return list(records)


def queues_from_json(stdout: str) -> dict[str, str]:
    """``bqueues -o "queue_name status" -json`` -> {queue: status}."""
    queues: dict[str, str] = {}
    for record in load_records(stdout, "bqueues"):
        if "QUEUE_NAME" not in record:
            raise LSFOutputError("bqueues: record without QUEUE_NAME")
        queues[str(record["QUEUE_NAME"])] = str(record.get("STATUS", ""))
    return queues


def queues_from_text(stdout: str) -> dict[str, str]:
    """``bqueues -w`` columns (QUEUE_NAME PRIO STATUS ...) -> {queue: status}."""
    lines = [line.split() for line in stdout.splitlines() if line.strip()]
    if not lines or lines[0][:1] != ["QUEUE_NAME"] or "STATUS" not in lines[0]:
        raise LSFOutputError("bqueues: no QUEUE_NAME/STATUS header")
    status_col = lines[0].index("STATUS")
    return {row[0]: row[status_col] if len(row) > status_col else "" for row in lines[1:]}


def parse_queue_long(text: str) -> QueueDetail:
    """``bqueues -l <queue>``: the queue status and the tokens of its ``HOSTS:`` line."""
    detail = QueueDetail()
    lines = text.splitlines()
    for number, line in enumerate(lines):
        words = line.split()
        if not words:
            continue
        # The PARAMETERS/STATISTICS table: a header row naming STATUS, the values below it.
        if "STATUS" in words and "PRIO" in words and not detail.status:
            below = lines[number + 1].split() if number + 1 < len(lines) else []
            index = words.index("STATUS")
            detail.status = below[index] if index < len(below) else ""
        # Anchored: "HOSTS:" must start the line (USED_HOSTS:, EXCLUSIVE_HOSTS... do not count).
        if words[0] == "HOSTS:" and not detail.host_tokens:
            detail.host_tokens = words[1:]
    return detail


#: Names we pass to LSF as argv elements: no spaces or shell-ish characters, and no leading
#: "-" so that a name can never be read as an option.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*$")


@dataclass
class HostSelection:
    """The ``HOSTS:`` tokens sorted into what to ask ``bhosts`` for."""

    whole_cluster: bool = False  # "all" / "others": ask bhosts without a host argument
    names: list[str] = field(default_factory=list)  # hosts and host groups, cleaned
    excluded: set[str] = field(default_factory=set)  # "~host" exclusions
    ignored: list[str] = field(default_factory=list)  # tokens we cannot query here


def select_hosts(tokens: list[str]) -> HostSelection:
    """Clean ``HOSTS:`` tokens: strip ``+pref`` and the group ``/``, sort out the keywords."""
    selection = HostSelection()
    for token in tokens:
        bare = token.split("+")[0]  # "others+1", "gpu04+2": the preference is not our business
        if bare == "none":
            continue
        if bare in ("all", "others"):
            # "others" is the hosts no other queue names; the whole cluster is a superset
            # and the UI only shows the hosts its layout names.
            selection.whole_cluster = True
            continue
        if token.startswith("~"):
            selection.excluded.add(bare[1:].replace("/", ""))
            continue
        name = bare.replace("/", "")
        if bare == "allremote" or "@" in token or not SAFE_NAME.match(name):
            selection.ignored.append(token)  # remote clusters and oddities are not ours
            continue
        if name not in selection.names:
            selection.names.append(name)
    return selection


def hosts_from_json(stdout: str) -> list[HostState]:
    """``bhosts -o "host_name status max run" -json`` -> host states."""
    hosts = []
    for record in load_records(stdout, "bhosts"):
        try:
            hosts.append(HostState(str(record["HOST_NAME"]), str(record["STATUS"]),
                                   as_count(record.get("MAX", "-")),
                                   as_count(record.get("RUN", "-"))))
        except KeyError as exc:
            raise LSFOutputError(f"bhosts: record without {exc}") from exc
    return hosts


def hosts_from_text(stdout: str) -> list[HostState]:
    """``bhosts -w`` (HOST_NAME STATUS JL/U MAX NJOBS RUN ...) -> host states."""
    lines = [line.split() for line in stdout.splitlines() if line.strip()]
    if not lines or lines[0][:1] != ["HOST_NAME"]:
        raise LSFOutputError("bhosts: no HOST_NAME header")
    header = lines[0]
    try:
        status_col, max_col, run_col = (header.index(c) for c in ("STATUS", "MAX", "RUN"))
    except ValueError as exc:
        raise LSFOutputError("bhosts: header lacks STATUS, MAX or RUN") from exc
    hosts = []
    for row in lines[1:]:
        if len(row) <= max(status_col, max_col, run_col):
            raise LSFOutputError(f"bhosts: short row {' '.join(row)!r}")
        hosts.append(HostState(row[0], row[status_col], as_count(row[max_col]),
                               as_count(row[run_col])))
    return hosts


def is_no_jobs(stdout: str, stderr: str) -> bool:
    """True for bjobs' "No unfinished job found" answer, whatever its exit code."""
    text = f"{stdout}\n{stderr}".lower()
    return not stdout.strip().startswith("{") and any(m in text for m in NO_JOBS_MARKERS)


def jobs_from_json(stdout: str) -> list[Job]:
    """``bjobs -o "user jobid stat job_name queue exec_host" -json`` -> jobs."""
    jobs = []
    for record in load_records(stdout, "bjobs"):
        if "ERROR" in record:  # a per-record error (e.g. a job that just vanished)
            continue
        try:
            jobs.append(Job(str(record["USER"]), str(record["JOBID"]), str(record["STAT"]),
                            str(record.get("QUEUE", "")), str(record.get("EXEC_HOST", ""))))
        except KeyError as exc:
            raise LSFOutputError(f"bjobs: record without {exc}") from exc
    return jobs


def cores_per_host(exec_host: str) -> dict[str, int]:
    """``"4*hostA:2*hostB"`` -> {hostA: 4, hostB: 2}; a bare ``host`` is one core each time."""
    cores: dict[str, int] = {}
    for part in exec_host.split(":"):
        part = part.strip()
        if not part:
            continue
        count, star, host = part.partition("*")
        if not star:
            count, host = "1", part
        if not count.isdigit() or not host:
            raise LSFOutputError(f"bjobs: cannot read EXEC_HOST {exec_host!r}")
        cores[host] = cores.get(host, 0) + int(count)
    return cores
