"""The ``cluster-lsf`` task: every period, one event with the state of the chosen queues."""

from __future__ import annotations

from typing import Any, Optional

from emhub_worker_core import (
    CommandError,
    CommandNotFound,
    CommandTimeout,
    ConfigError,
    TaskError,
    TaskHandler,
)

from .lsf import LSFClient
from .parse import LSFOutputError
from .settings import LSFSettings
from .snapshot import Snapshot, take_snapshot


class ClusterLSFHandler(TaskHandler):
    """Reads bqueues/bjobs/bhosts each period and sends ``{"maxlen": 2, "queues": ...}``."""

    snapshot_fields = ("queues", "pending", "queue_status")  # what the Cluster Queues page reads

    def setup(self) -> None:
        self.bad_args: Optional[str] = None
        self.last_queues: Optional[dict[str, Any]] = None
        try:
            self.settings = self.read_settings(LSFSettings)
        except (TaskError, ConfigError) as exc:
            self.bad_args = str(exc)
            return
        self.interval = self.settings.period
        self.lsf = LSFClient(self.runner, self.settings.timeout)

    def process(self) -> None:
        if self.bad_args is not None:
            self.done(maxlen=2, error=self.bad_args)
            return
        try:
            queues = list(self.settings.queues) if self.settings.queues is not None else None
            snap = take_snapshot(self.lsf, queues, self.settings.pattern,
                                 self.logger.warning)
        except CommandError as exc:
            self.send_error(f"{exc.command}: {self.describe(exc)}")
            return
        except LSFOutputError as exc:  # messages already start with the command name
            self.send_error(str(exc))
            return
        self.last_queues = snap.hosts
        self.logger.info("sending %d hosts of %d queues", len(snap.hosts),
                         len(snap.queue_status))
        self.update(event_from(snap))

    def describe(self, exc: CommandError) -> str:
        """The reason part of ``<command>: <reason>`` (stderr when the command ran)."""
        if isinstance(exc, CommandNotFound):
            return f"command not found: {exc.argv[0]}"
        if isinstance(exc, CommandTimeout):
            return f"timed out after {self.settings.timeout:g} s {exc.stderr.strip()}".strip()
        return exc.stderr.strip() or str(exc)

    def send_error(self, message: str) -> None:
        """One error event; the last good ``queues`` ride along so the page still renders."""
        self.logger.error("%s", message)
        self.update({"maxlen": 2, "error": message, "queues": self.last_queues})


def event_from(snap: Snapshot) -> dict[str, Any]:
    event: dict[str, Any] = {"maxlen": 2, "queues": snap.hosts, "pending": snap.pending,
                             "queue_status": snap.queue_status}
    if snap.notes:
        event["notes"] = snap.notes
    return event
