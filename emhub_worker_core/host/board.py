"""A live table of running tasks for a person at a terminal (rich); nothing otherwise."""

from __future__ import annotations

import time
from typing import Any, Optional

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..contract.events import EncodedEvent
from ..contract.task import Task
from ..ops.logs import stderr_console
from .routing import Claim


class TaskBoard:
    """Event observer that keeps one row per task: plugin, events sent, last event."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or stderr_console()
        self.rows: dict[str, dict[str, Any]] = {}
        self._live: Optional[Live] = None

    def __enter__(self) -> TaskBoard:
        self._live = Live(self._table(), console=self.console, refresh_per_second=4,
                          transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(*exc)

    def __call__(self, task: Task, claim: Optional[Claim], event: EncodedEvent) -> None:
        row = self.rows.setdefault(task.id, {"name": task.name, "events": 0, "plugin":
                                             claim.plugin if claim else "-"})
        row["events"] += 1
        row["time"] = time.strftime("%H:%M:%S")
        row["state"] = "error" if "error" in event else ("done" if "done" in event
                                                         else "running")
        keys = ", ".join(k for k in event if k not in ("maxlen", "stack"))
        row["last"] = keys[:60]
        if self._live is not None:
            self._live.update(self._table())

    def _table(self) -> Table:
        table = Table(title="emworker tasks", expand=False)
        for column in ("task", "name", "plugin", "events", "state", "last event", "at"):
            table.add_column(column)
        for task_id, row in self.rows.items():
            table.add_row(task_id, row["name"], row["plugin"], str(row["events"]),
                          row.get("state", ""), row.get("last", ""), row.get("time", ""))
        return table
