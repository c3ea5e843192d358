"""The task-source protocol the host runs against.

The host does not care where tasks come from: the local TOML source
(:mod:`.local`) and the EMhub source (:mod:`emhub_worker_core.sources.emhub`) both subclass
:class:`TaskSource`. What only one of them has (a link to report, a deadline for its calls,
tasks it turned away) is part of the protocol too, with a default for the others, so the
host calls every source the same way.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping, Protocol

from ..contract.emhub_services import EMhubServices
from ..contract.events import EncodedEvent
from ..contract.task import Task


class TaskSource(Protocol):
    """A supply of tasks and a destination for their events."""

    #: Short name for logs and status ("local", "emhub").
    name: str
    #: The EMhub calls handlers may make through this source.
    services: EMhubServices

    def open(self, specs: Mapping[str, Any], stop: threading.Event) -> None:
        """Connect (retrying transient failures until ``stop``); raise
        :class:`~emhub_worker_core.contract.errors.AuthenticationError` if retrying cannot help.
        ``specs`` describe this worker (EMhub's ``connect_worker`` stores them)."""
        ...

    def poll(self, stop: threading.Event) -> list[Task]:
        """Block until tasks arrive, a poll times out, or ``stop`` is set.

        Returns the tasks to start, possibly including ones already running (the host
        never starts a task id twice). A malformed task is reported by the source itself
        and not returned."""
        ...

    def send(self, task: Task, event: EncodedEvent) -> None:
        """Deliver one event of ``task`` (retried within bounds); raise on failure."""
        ...

    @property
    def exhausted(self) -> bool:
        """True when no task will ever come again (a local file read to its end)."""
        ...

    def close(self) -> None:
        """Release connections and files. Called once, last."""
        ...

    def connection(self) -> Mapping[str, Any]:
        """The source's view of its link for the state file (EMhub: connected, or failing
        since, attempts, last error). A source with no link has nothing to say."""
        return {}

    def stopping(self, deadline: float) -> None:
        """The host is stopping: every call of the source must end by ``deadline``
        (``time.monotonic()``). A source whose calls cannot hang ignores it."""
        return None

    @property
    def rejected(self) -> int:
        """Tasks the source turned away or saw end in errors only, which make a finished
        (exhausted) run exit with TASKS_FAILED: a local file's malformed records."""
        return 0
