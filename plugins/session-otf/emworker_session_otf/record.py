"""One job per session: the record kept in a local state file and mirrored to ``extra.otf``.

The record is written (temporary file, then rename) before anything else happens to the
job: before ``submit`` (status ``submitting``, with the job name the scheduler can find it
by) and again the moment the job id is known. A restarted worker reads it and re-attaches;
the same record goes to EMhub, so another worker host can re-attach too.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from emhub_worker_core.guard import atomic_write, read_bounded

#: ``submitting``: the job's name is saved, its id not yet known (a restarted worker looks it
#: up by name); ``stopping``: a cancel was asked and is not yet confirmed (retried).
CREATED, SUBMITTING, STOPPING = "created", "submitting", "stopping"
RECORD_MAX_BYTES = 1 << 20
_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


def session_lock(session_id: int) -> threading.Lock:
    """One lock per session in this process: tasks of one session never write at once."""
    with _locks_guard:
        return _locks.setdefault(session_id, threading.Lock())


def stamp(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class JobRecord:
    session_id: int
    owner_task: str
    path: str
    workflow: str
    host: str
    status: str = CREATED
    executor: str = ""
    job_id: str = ""
    job_name: str = ""
    log: str = ""
    created: float = 0.0
    ready_at: float = 0.0        # when the min_movies-th movie had settled
    submitted: float = 0.0
    started: float = 0.0
    ended: float = 0.0
    exit_code: Optional[int] = None
    log_tail: str = ""
    movies_fed: int = 0
    feed_ended: bool = False
    attempts: int = 0
    gain: str = ""               # the gain copy in the OTF folder, as made ("" for none)
    transitions: list[list[Any]] = field(default_factory=list)  # [status, epoch]

    def set_status(self, status: str, now: float) -> bool:
        """Change the status (noting when); False if it already was that."""
        if status == self.status and self.transitions:
            return False
        self.status = status
        self.transitions.append([status, round(now, 3)])
        del self.transitions[:-20]  # bounded: a retry loop cannot grow it without end
        return True

    def extra_otf(self, keep: Mapping[str, Any]) -> dict[str, Any]:
        """The complete ``extra.otf`` (EMhub replaces the key whole), with no None in it."""
        otf = {k: v for k, v in keep.items() if v is not None}
        otf.update(
            path=self.path, workflow=self.workflow, host=self.host, status=self.status,
            executor=self.executor, job_id=self.job_id, job_name=self.job_name,
            log=self.log, submitted=stamp(self.submitted) if self.submitted else "",
            started=stamp(self.started) if self.started else "",
            ended=stamp(self.ended) if self.ended else "",
            exit_code=self.exit_code if self.exit_code is not None else "",
            log_tail=self.log_tail, movies_fed=self.movies_fed, attempts=self.attempts,
            transitions=[{"status": s, "at": stamp(t), "epoch": t}
                         for s, t in self.transitions])
        return otf

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobRecord:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


class RecordStore:
    """``<state dir>/session-<id>.json``, one file per session."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, session_id: int) -> Path:
        return self.directory / f"session-{int(session_id)}.json"

    def load(self, session_id: int) -> Optional[JobRecord]:
        path = self.path(session_id)
        try:
            data = json.loads(read_bounded(self.directory, path.name, RECORD_MAX_BYTES))
            record = JobRecord.from_json(data) if isinstance(data, dict) else None
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            raise RecordError(f"job record {path} unreadable: {exc}") from exc
        if record is None:
            raise RecordError(f"job record {path} is not an object")
        return record

    def save(self, record: JobRecord) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write(self.directory, self.path(record.session_id).name,
                     json.dumps(asdict(record), indent=1).encode(), mode=0o600)

    def remove(self, session_id: int) -> None:
        """Forget a record (``clear``), readable or not: renamed aside, never deleted."""
        path = self.path(session_id)
        if path.exists() or path.is_symlink():
            os.replace(path, path.with_suffix(f".cleared-{datetime.datetime.now():%Y%m%d-%H%M%S}"))


class RecordError(RuntimeError):
    """The local job record exists but cannot be read: never guess, never submit twice."""


def _number(value: Any, kind: type[int] | type[float], default: float) -> Any:
    """An EMhub value as a number, or ``default``: a bad value never crashes the task."""
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        return kind(default)
    return number if number == number and abs(number) < 1e15 else kind(default)


def record_from_extra(session_id: int, otf: Mapping[str, Any], owner: str) -> Optional[JobRecord]:
    """A record rebuilt from EMhub's ``extra.otf`` when this host has no local file.

    Nothing in it is trusted: the caller checks the job id's form and that the job is this
    session's (name and user) before using it; the log path is never taken from EMhub."""
    if not otf.get("job_id") or not otf.get("executor"):
        return None
    record = JobRecord(session_id=session_id, owner_task=owner, path=str(otf.get("path", "")),
                       workflow=str(otf.get("workflow", "")), host=str(otf.get("host", "")),
                       status=str(otf.get("status") or CREATED),
                       executor=str(otf["executor"]), job_id=str(otf["job_id"]),
                       movies_fed=_number(otf.get("movies_fed"), int, 0),
                       attempts=max(1, _number(otf.get("attempts"), int, 1)))
    items = otf.get("transitions")
    for item in items[-20:] if isinstance(items, list) else []:
        if isinstance(item, Mapping) and "status" in item and "epoch" in item:
            record.transitions.append([str(item["status"])[:20],
                                       _number(item["epoch"], float, 0.0)])
    return record
