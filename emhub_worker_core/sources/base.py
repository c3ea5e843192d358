"""The task-source protocol the host runs against.

The host does not care where tasks come from: the local TOML source
(:mod:`.local`) and the EMhub source (:mod:`emhub_worker_core.sources.emhub`) both implement
:class:`TaskSource`.
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
