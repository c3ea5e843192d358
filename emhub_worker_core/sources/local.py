"""The local task source: tasks from a TOML file, events as JSON lines. No server needed.

::

    [[tasks]]
    name = "frames-monitor"
    args = { root = "/data/frames", period = 5 }
    id = "optional-id"

    # Optional data for handlers that ask EMhub for it:
    [emhub.config.sessions]          # request_config("sessions")
    raw = { root_frames = "/data/frames", root = "/data/offload" }
    [[emhub.sessions]]               # get_session(301)
    id = 301
    name = "20240301Krios01:S00301_grid1"
    [emhub.session_users.301]        # get_session_users(301)
    group = "doegrp"
    [[emhub.resources]]
    id = 1
    name = "Krios01"

Each event is written as one line ``{"time", "task_id", "task", "plugin", "event"}``
(``plugin``: the plugin the task was routed to, ``null`` if none); session updates as
``{"time", "session_id", "session_extra"}``. The format is documented in
``docs/local-runs.rst``.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import threading
from pathlib import Path
from typing import IO, Any, Callable, Mapping, Optional

from ..contract.emhub_services import EMhubServices, InMemoryServices
from ..contract.errors import ConfigError, TaskError
from ..contract.events import EncodedEvent
from ..contract.task import Task
from ..ops.config import read_toml
from .base import TaskSource

log = logging.getLogger("emworker.local")


class JsonLinesWriter:
    """Thread-safe writer of one JSON object per line, flushed at once."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps({"time": datetime.datetime.now(datetime.timezone.utc)
                           .isoformat(timespec="milliseconds"), **record}, default=str)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()


#: What a tasks file may hold at its top level; anything else is a typo worth an error.
TOP_LEVEL = {"tasks": "[[tasks]]", "emhub": "[emhub]"}
EMHUB_TABLES = {"config", "sessions", "session_users", "resources"}


def read_tasks_file(path: Path) -> tuple[list[Any], dict[str, Any]]:
    """The raw ``[[tasks]]`` records and the ``[emhub]`` table of a tasks file.

    :class:`ConfigError` (naming the file and key) for what cannot be meant: a folder,
    an unknown table (``[[task]]``), two tasks with the same ``id``.
    """
    data = read_toml(path, "tasks file")
    for key in data:
        if key not in TOP_LEVEL:
            hint = " (did you mean [[tasks]]?)" if key in ("task", "Tasks", "TASKS") else ""
            raise ConfigError(f"{path}: {key}: unknown table or key{hint}; a tasks file "
                              f"holds {' and '.join(TOP_LEVEL.values())}")
    tasks = data.get("tasks", [])
    if not isinstance(tasks, list):
        raise ConfigError(f"{path}: 'tasks' must be an array of tables ([[tasks]])")
    if not tasks:
        raise ConfigError(f"{path}: no [[tasks]]: nothing to run")
    emhub = data.get("emhub", {})
    if not isinstance(emhub, dict):
        raise ConfigError(f"{path}: [emhub] must be a table")
    for key in emhub:
        if key not in EMHUB_TABLES:
            raise ConfigError(f"{path}: emhub.{key}: unknown key; [emhub] holds "
                              f"{', '.join(sorted(EMHUB_TABLES))}")
    _check_unique_ids(path, tasks)
    return tasks, emhub


def _check_unique_ids(path: Path, tasks: list[Any]) -> None:
    seen: dict[str, int] = {}
    for index, record in enumerate(tasks, start=1):
        if not isinstance(record, dict) or "id" not in record:
            continue
        task_id = str(record["id"])
        if task_id in seen:
            raise ConfigError(f"{path}: tasks[{index}].id: {task_id!r} is also the id of "
                              f"task #{seen[task_id]}; task ids must be unique")
        seen[task_id] = index


class LocalTaskSource(TaskSource):
    """Serves the tasks of one TOML file once, then reports itself exhausted."""

    name = "local"

    def __init__(self, path: str | Path, events: IO[str] | None = None,
                 plugin_of: Callable[[Task], Optional[str]] | None = None) -> None:
        self.path = Path(path)
        #: names the plugin a task is routed to, for the events file (None: unknown)
        self.plugin_of = plugin_of or (lambda task: None)
        self.writer = JsonLinesWriter(events if events is not None else sys.stdout)
        records, emhub = read_tasks_file(self.path)
        self._records = records
        self.services: EMhubServices = InMemoryServices(
            configs=emhub.get("config", {}), sessions=emhub.get("sessions", []),
            users={int(k): v for k, v in emhub.get("session_users", {}).items()},
            resources=emhub.get("resources", []), on_update=self._session_updated)
        self._served = False
        #: malformed task records (they make a local run exit with TASKS_FAILED)
        self.malformed = 0
        #: task id -> (error events, other events): a task that sent only errors failed
        self._sent: dict[str, list[int]] = {}

    def open(self, specs: Mapping[str, Any], stop: threading.Event) -> None:
        log.info("local run of %s: %d task(s)", self.path, len(self._records))

    def poll(self, stop: threading.Event) -> list[Task]:
        if self._served:
            return []
        self._served = True
        tasks = []
        for index, record in enumerate(self._records, start=1):
            if isinstance(record, dict):
                record = {"id": f"local-{index}", **record}
            try:
                tasks.append(Task.from_json(record))
            except TaskError as exc:
                log.error("%s: task #%d skipped: %s", self.path, index, exc)
                self.malformed += 1
                self.writer.write({"task_id": f"local-{index}", "task": None, "plugin": None,
                                   "event": {"error": f"malformed task: {exc}", "done": 1}})
        return tasks

    def send(self, task: Task, event: EncodedEvent) -> None:
        self.writer.write({"task_id": task.id, "task": task.name,
                           "plugin": self.plugin_of(task), "event": event})
        counts = self._sent.setdefault(task.id, [0, 0])
        if "error" in event:
            counts[0] += 1
        elif set(event) - {"done", "interrupted", "msg"}:  # a bare done is no result
            counts[1] += 1

    @property
    def rejected(self) -> int:
        """Tasks that make a local run exit with TASKS_FAILED beyond those whose handler
        raised: malformed records, and tasks whose every event was an error."""
        error_only = sum(1 for errors, others in self._sent.values() if errors and not others)
        return self.malformed + error_only

    def _session_updated(self, session_id: int, extra: dict[str, Any]) -> None:
        self.writer.write({"session_id": session_id, "session_extra": extra})

    @property
    def exhausted(self) -> bool:
        return self._served

    def close(self) -> None:
        if self.writer.stream not in (sys.stdout, sys.stderr):
            self.writer.stream.close()
