"""The handler model plugin authors subclass: :class:`TaskHandler` and its :class:`TaskContext`.

One thread runs one task. The host builds the handler (``factory(context)``) inside that
thread, then calls :meth:`TaskHandler.setup` once and :meth:`TaskHandler.process` again
and again, waiting :attr:`TaskHandler.interval` seconds between calls, until the handler
calls :meth:`TaskHandler.done`, a stop is requested, or ``process`` raises (which becomes
an ``error``/``stack``/``done`` event; see :mod:`emhub_worker_core.host.task_loop`).

The admin's floor (``[worker] min_interval``, :attr:`TaskContext.min_interval`) bounds
every wait from below, between steps and in :meth:`TaskHandler.wait`, so no task argument
can make a handler hammer a scheduler, a share or EMhub. Only a step that called
:meth:`TaskHandler.mark_progress` may wait less.
"""

from __future__ import annotations

import enum
import logging
import math
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Optional

from .commands import CommandRunner, Runner
from .emhub_services import EMhubServices, NoServices
from .errors import REFUSALS
from .events import EncodedEvent, encode_event
from .task import Task

EventSender = Callable[[EncodedEvent], None]

#: ``[worker] min_interval`` when the configuration does not set it, in seconds.
DEFAULT_MIN_INTERVAL = 5.0


class Outcome(enum.Enum):
    """How a task's run ended."""

    DONE = "done"            #: the handler sent ``done``
    FAILED = "failed"        #: an exception ended it; an error event with ``done`` was sent
    STOPPED = "stopped"      #: a stop was requested (shutdown, or the handler stopped itself)
    EXHAUSTED = "exhausted"  #: ``max_iterations`` steps ran (local runs)


class TaskLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Prefixes every line with the task id, name and plugin, and adds them as record fields."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        kwargs.setdefault("extra", {}).update(extra)
        return f"[{extra.get('task_id')} {extra.get('task_name')} {extra.get('plugin')}] {msg}", \
            kwargs


@dataclass
class TaskContext:
    """Everything a handler gets from the host. Plugins read it; the host fills it in."""

    task: Task
    send: EventSender
    plugin: str = "unknown"
    config: Mapping[str, Any] = field(default_factory=dict)
    services: EMhubServices = field(default_factory=NoServices)
    runner: Runner = field(default_factory=CommandRunner)
    stop_event: threading.Event = field(default_factory=threading.Event)
    #: Wall time (``time.time``): for times shown to people or compared with file mtimes.
    clock: Callable[[], float] = time.time
    #: A clock that only moves forward (``time.monotonic``): for every duration (a quiet
    #: period, an idle limit, a grace), which a step of the wall clock (NTP) must not
    #: stretch or cut. Its readings mean nothing across processes: never store them.
    monotonic: Callable[[], float] = time.monotonic
    #: The admin's floor on every wait, in seconds (``[worker] min_interval``; the host
    #: sets it, 0 here so that a context built by hand, e.g. in a test, has none).
    min_interval: float = 0.0
    #: A folder this plugin may keep durable state in, one per worker and plugin
    #: (``<worker state folder>/plugins/<plugin>``; not created until the plugin does), or
    #: ``None`` when the run has none (a context built by hand).
    state_dir: Optional[Path] = None


def wait_seconds(requested: object, floor: float) -> float:
    """The wait actually made for ``requested`` seconds under ``floor``.

    Anything that is not a number, and NaN, count as 0 (so the floor applies); a negative
    wait is 0; an infinite one is as long as :class:`threading.Event` can wait.
    """
    if isinstance(requested, bool) or not isinstance(requested, (int, float)) \
            or math.isnan(requested):
        seconds = 0.0
    else:
        seconds = min(max(0.0, float(requested)), threading.TIMEOUT_MAX)
    return max(seconds, floor)


HandlerFactory = Callable[[TaskContext], "TaskHandler"]


class TaskHandler:
    """Base class of every task handler.

    Subclasses implement :meth:`process` (one step of work) and may override
    :meth:`setup` (once, in the task's thread, before the first step) and
    :meth:`teardown` (always, last). They report with :meth:`update`, finish with
    :meth:`done`, and wait with :meth:`wait` so that a stop is noticed at once.
    """

    #: Seconds between two :meth:`process` calls; a handler may change it at any time.
    interval: float = 10.0
    #: Fields EMhub's pages read from a task's *last* event (a frames listing, a queue
    #: table). The latest sent value of each is repeated in any last event the host sends
    #: for the task (``interrupted`` on shutdown, a fatal error), with ``maxlen`` if used,
    #: so the page still renders while the worker is down.
    snapshot_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, context: TaskContext) -> None:
        self.context = context
        self.task: Task = context.task
        #: Number of :meth:`process` calls so far (1 inside the first call).
        self.count = 0
        self._finished = False
        self._made_progress = False

        self._snapshot: EncodedEvent = {}
        self.logger = TaskLogger(logging.getLogger(f"emworker.plugin.{context.plugin}"),
                                 {"task_id": self.task.id, "task_name": self.task.name,
                                  "plugin": context.plugin})

    # -- what the task is ---------------------------------------------------------------
    @property
    def task_id(self) -> str:
        return self.task.id

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def args(self) -> Mapping[str, Any]:
        return self.task.args

    @property
    def config(self) -> Mapping[str, Any]:
        """This plugin's section of the worker configuration (``[plugins.<name>]``)."""
        return self.context.config

    @property
    def emhub(self) -> EMhubServices:
        """EMhub calls the handler may make (config, sessions); see :mod:`.services`."""
        return self.context.services

    @property
    def runner(self) -> Runner:
        """Runs external commands from argv lists (injectable; no shell)."""
        return self.context.runner

    # -- life cycle -----------------------------------------------------------------------
    def setup(self) -> None:
        """Called once in the task's thread before the first :meth:`process`."""

    def process(self) -> None:
        """One step of work. Called repeatedly until :meth:`done` or a stop."""
        raise NotImplementedError

    def teardown(self) -> None:
        """Called once at the end, however the task ended."""

    # -- reporting ------------------------------------------------------------------------
    def update(self, event: Mapping[str, Any]) -> EncodedEvent:
        """Send one event for this task (made acceptable to EMhub first); return what was sent."""
        encoded = encode_event(event)
        self.context.send(encoded)
        self._remember(encoded)
        return encoded

    def _remember(self, sent: EncodedEvent) -> None:
        """Keep the snapshot fields of an event EMhub stored (only after the send worked)."""
        for key in (*self.snapshot_fields, "maxlen") if self.snapshot_fields else ():
            if key in sent:
                self._snapshot[key] = sent[key]

    def snapshot(self) -> EncodedEvent:
        """The latest sent value of each :attr:`snapshot_fields` field (and ``maxlen``)."""
        return dict(self._snapshot)

    def report_error(self, exc: BaseException, **fields: Any) -> EncodedEvent:
        """Send a recoverable error (``error``, and ``stack`` unless ``exc`` is a refusal in
        words) and keep the task running."""
        self.logger.error("%s", exc)
        if isinstance(exc, REFUSALS):
            return self.update({**fields, "error": str(exc)})
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return self.update({**fields, "error": str(exc), "stack": stack})

    def done(self, **fields: Any) -> EncodedEvent:
        """Send the final event (``fields`` plus ``done: 1``) and end the task."""
        sent = self.update({**fields, "done": 1})
        self._finished = True
        return sent

    # -- stopping -------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the handler to stop at its next safe point (the loop or a :meth:`wait`)."""
        self.context.stop_event.set()

    @property
    def stopping(self) -> bool:
        """True once a stop was requested (by the host or by :meth:`stop`)."""
        return self.context.stop_event.is_set()

    @property
    def finished(self) -> bool:
        """True once :meth:`done` was sent."""
        return self._finished

    # -- pacing ---------------------------------------------------------------------------
    def mark_progress(self) -> None:
        """Say this step moved work forward (e.g. a batch of files was copied).

        Until the next :meth:`process` call, waits may be shorter than the admin's
        ``min_interval`` (down to 0): a handler with a backlog works through it at once,
        and falls back to the floor as soon as a step finds nothing to do.
        """
        self._made_progress = True

    @property
    def progress_marked(self) -> bool:
        """True when :meth:`mark_progress` was called during the current step."""
        return self._made_progress

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds``, waking at once on a stop; return True if stopping.

        The wait is at least ``min_interval`` unless this step called
        :meth:`mark_progress`.
        """
        return self.context.stop_event.wait(wait_seconds(seconds, step_floor(self)))


# The host's side of pacing: functions rather than methods, so a handler subclass cannot
# shadow them by accident, and beside the class, which owns the progress mark.
def begin_step(handler: TaskHandler) -> None:
    """A new step begins: the progress mark is per step (the host's loop calls this)."""
    handler._made_progress = False


def step_floor(handler: TaskHandler) -> float:
    """The floor on the wait after the current step, the one place of the rule: the
    admin's ``min_interval``, or 0 once the step called :meth:`TaskHandler.mark_progress`."""
    return 0.0 if handler._made_progress else max(0.0, handler.context.min_interval)
