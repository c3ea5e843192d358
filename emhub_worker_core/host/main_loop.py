"""The host: takes tasks from a source, routes each to its plugin, runs it in its own thread.

Three parts, one job each: :class:`~.intake.Intake` (a thread) connects to the source
and polls it; :class:`~.supervisor.Supervisor` starts tasks within the limits and stops
them; :class:`Host` is the small main loop that ties them together, runs the tickers
(state file, systemd) from the first second, outside any lock, and shuts down on every
path, a fatal error included.

It never starts a task id twice, honours the concurrency limits, and shuts down in two
steps: the first stop request (SIGTERM/SIGINT) stops intake, asks every handler to stop
at its next safe point and tells the source each stopped task was *interrupted* (no
``done``, so EMhub keeps it pending and the next start resumes it); the second stops now.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Mapping, Optional

from ..contract.commands import CommandRunner, Runner
from ..contract.errors import TaskError
from ..contract.events import EncodedEvent
from ..contract.handler import DEFAULT_MIN_INTERVAL
from ..contract.task import Task
from ..ops import exit_codes
from ..sources.base import TaskSource
from .intake import Intake
from .routing import Claim, Router
from .supervisor import EventObserver, RunningTask, Supervisor

log = logging.getLogger("emworker.host")

#: The main loop wakes at once when something changed, else at the shortest
#: ``tick_every`` a ticker asks for (watchdog, state heartbeat), and at least this often.
TICK_EVERY = 10.0
#: ... and every second while connecting or while the source fails, so the state file
#: and STATUS= follow an outage (attempts, last error) as it happens.
TICK_TROUBLE = 1.0

__all__ = ["EventObserver", "Host", "RunningTask"]


class Host:
    """Runs the tasks of one :class:`TaskSource` through a :class:`Router`."""

    def __init__(self, router: Router, *, plugin_config: Callable[[str], Mapping[str, Any]]
                 = lambda name: {}, runner: Runner | None = None, max_tasks: int = 16,
                 max_tasks_per_name: Mapping[str, int] | None = None,
                 grace_period: float = 30.0, max_iterations: int | None = None,
                 observers: list[EventObserver] | None = None,
                 min_interval: float = DEFAULT_MIN_INTERVAL,
                 state_dir: Optional[Path] = None) -> None:
        self.router = router
        self.grace_period = grace_period
        self.observers = list(observers or [])
        self.supervisor = Supervisor(
            self._deliver, plugin_config=plugin_config, runner=runner or CommandRunner(),
            max_tasks=max_tasks, max_tasks_per_name=max_tasks_per_name or {},
            max_iterations=max_iterations, observers=self.observers, changed=self._changed,
            min_interval=min_interval, state_dir=state_dir)
        self._warm_stop = threading.Event()
        self._cold_stop = threading.Event()
        # An RLock: the signal handler (main thread) may take it while the loop holds it.
        self._wake = threading.Condition(threading.RLock())
        self._dirty = False
        #: bumped on every change the state file shows (tasks, events, connection, stop)
        self.version = 0
        self._source: Optional[TaskSource] = None
        self._intake: Optional[Intake] = None
        #: called from the main loop at start, on every change and at least every
        #: TICK_EVERY seconds, or a ticker's ``tick_every`` if shorter (state file,
        #: systemd); never under a lock
        self.tickers: list[Callable[[Host], None]] = []
        self.started = time.time()
        self.source_name = ""

    # -- what it is doing --------------------------------------------------------------------
    @property
    def min_interval(self) -> float:
        """The admin's floor on every handler's waits (``[worker] min_interval``)."""
        return self.supervisor.min_interval

    @property
    def running(self) -> dict[str, RunningTask]:
        return self.supervisor.running

    @property
    def waiting(self) -> deque[tuple[Task, Claim]]:
        return self.supervisor.waiting

    @property
    def failed_tasks(self) -> int:
        return self.supervisor.failed_tasks

    @property
    def ready_at(self) -> Optional[float]:
        """When the source first answered (``None`` while connecting)."""
        return self._intake.ready_at if self._intake else None

    @property
    def last_poll(self) -> Optional[float]:
        return self._intake.last_poll if self._intake else None

    @property
    def poller_alive(self) -> bool:
        """True while intake (connecting, then polling) lives."""
        return self._intake is not None and self._intake.alive

    @property
    def stopping(self) -> bool:
        return self._warm_stop.is_set()

    @property
    def phase(self) -> str:
        if self.stopping:
            return "stopping"
        return "running" if self.ready_at else "connecting"

    def snapshot(self) -> dict[str, Any]:
        """What the worker is doing, for the state file and ``emworker status``."""
        tasks, waiting = self.supervisor.table()
        state: dict[str, Any] = {
            "started": self.started, "ready": self.ready_at, "phase": self.phase,
            "source": self.source_name, "last_poll": self.last_poll,
            "stopping": self.stopping, "tasks": tasks, "waiting": waiting,
            "failed_tasks": self.failed_tasks}
        connection = self._connection()
        if connection:
            state["connection"] = connection
        return state

    def _connection(self) -> dict[str, Any]:
        """The source's view of its link (EMhub: connected, or failing since...), if any."""
        if self._source is None:
            return {}
        try:
            return dict(self._source.connection())
        except Exception as exc:  # the state file must not depend on it
            return {"state": "unknown", "last_error": str(exc)}

    # -- stopping ----------------------------------------------------------------------------
    def request_stop(self) -> None:
        """First call: warm stop. Second call: cold stop (exit now)."""
        if self._warm_stop.is_set():
            log.warning("second stop request: stopping now")
            self._cold_stop.set()
        else:
            log.info("stop requested: no new tasks; asking %d running task(s) to stop",
                     len(self.running))
            self._warm_stop.set()
        self._changed()

    def install_signal_handlers(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            log.info("received %s", signal.Signals(signum).name)
            # From another thread: the handler runs in the main thread, which may be just
            # about to wait, so a notify made here could miss it; a thread's waits for
            # the lock until the main thread waits for real.
            threading.Thread(target=self.request_stop, name="emworker-stop").start()
        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    # -- main loop ----------------------------------------------------------------------------
    def run(self, source: TaskSource, specs: Mapping[str, Any] | None = None) -> int:
        """Run until the source is exhausted and idle, or a stop; return the exit code.

        Shutdown runs on every path; an authentication failure is raised after it."""
        self._source = source
        self.source_name = source.name
        self.supervisor.services = source.services
        intake = self._intake = Intake(source, specs or {}, self._warm_stop, self.submit,
                                       self._changed)
        try:
            try:
                self._tick()  # the state file and systemd hear of us before any network
                intake.start()
                while not self._finished(intake):
                    self._sleep()
                    self._tick()
            finally:
                code = self._shutdown()
            if intake.fatal is not None:
                raise intake.fatal
            return code
        finally:
            source.close()

    def _finished(self, intake: Intake) -> bool:
        if self._warm_stop.is_set() or intake.fatal is not None:
            return True
        with self.supervisor.lock:
            idle = not self.running and not self.waiting
        return intake.done.is_set() and idle

    def _changed(self) -> None:
        with self._wake:
            self.version += 1
            self._dirty = True
            self._wake.notify_all()

    def _sleep(self) -> None:
        every = min([TICK_EVERY, *(getattr(t, "tick_every", TICK_EVERY) for t in self.tickers)])
        if self.ready_at is None or self._connection().get("state") == "failing":
            every = min(every, TICK_TROUBLE)
        with self._wake:
            if not self._dirty and not self._warm_stop.is_set():
                self._wake.wait(every)
            self._dirty = False

    def _tick(self) -> None:
        for ticker in self.tickers:
            try:
                ticker(self)
            except Exception as exc:
                log.warning("periodic check failed: %s", exc)

    def _shutdown(self) -> int:
        if not self._warm_stop.is_set():
            self._warm_stop.set()  # intake stops too (the source was exhausted, or fatal)
            self._changed()
        self._tick()
        if self._source is not None:  # its calls end within the grace period (EMhub may hang)
            self._source.stopping(time.monotonic() + self.grace_period)
        stuck = self.supervisor.stop_all(self.grace_period, self._cold_stop)
        self._tick()
        if stuck:
            return exit_codes.FORCED
        source = self._source
        if source is not None and source.exhausted and (self.failed_tasks or source.rejected):
            return exit_codes.TASKS_FAILED
        return exit_codes.OK

    # -- tasks ----------------------------------------------------------------------------------
    def submit(self, task: Task) -> None:
        """Route and start ``task`` unless it runs already; queue it when limits are reached."""
        if self.supervisor.known(task.id):
            log.debug("task %s already running; not started twice", task.id)
            return
        try:
            claim = self.router.resolve(task)
        except TaskError as exc:
            log.error("task %s (%s): %s", task.id, task.name, exc)
            self.supervisor.count_failure()
            try:
                self.supervisor.send_new(task, None, {"error": str(exc), "done": 1})
            except Exception as send_exc:  # still pending in EMhub: the re-check retries it
                log.error("could not report task %s: %s", task.id, send_exc)
            return
        self.supervisor.enqueue(task, claim)

    def _deliver(self, task: Task, event: EncodedEvent) -> None:
        if self._source is None:
            raise RuntimeError("no task source")
        self._source.send(task, event)
