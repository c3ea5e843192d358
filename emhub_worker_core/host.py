"""The host: takes tasks from a source, routes each to its plugin, runs it in its own thread.

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
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Callable, Mapping, Optional

from . import exitcodes
from .errors import AuthenticationError, TaskError
from .events import EncodedEvent, encode_event
from .execution import Outcome, run_task, send_failure
from .handler import DEFAULT_MIN_INTERVAL, TaskContext, TaskHandler
from .routing import Claim, Router
from .runner import CommandRunner, Runner
from .sources.base import TaskSource
from .task import Task

log = logging.getLogger("emworker.host")

EventObserver = Callable[[Task, Optional[Claim], EncodedEvent], None]


@dataclass
class RunningTask:
    """Book-keeping for one task thread (also what `emworker status` shows)."""

    task: Task
    claim: Claim
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: Optional[threading.Thread] = None
    started: float = field(default_factory=time.time)
    outcome: Optional[Outcome] = None
    last_event: Optional[EncodedEvent] = None
    last_event_time: Optional[float] = None


class Host:
    """Runs the tasks of one :class:`TaskSource` through a :class:`Router`."""

    def __init__(self, router: Router, *, plugin_config: Callable[[str], Mapping[str, Any]]
                 = lambda name: {}, runner: Runner | None = None, max_tasks: int = 16,
                 max_tasks_per_name: Mapping[str, int] | None = None,
                 grace_period: float = 30.0, max_iterations: int | None = None,
                 observers: list[EventObserver] | None = None,
                 min_interval: float = DEFAULT_MIN_INTERVAL) -> None:
        self.router = router
        self.plugin_config = plugin_config
        self.runner = runner or CommandRunner()
        self.max_tasks = max(1, max_tasks)
        self.max_tasks_per_name = dict(max_tasks_per_name or {})
        self.grace_period = grace_period
        self.max_iterations = max_iterations
        #: the admin's floor on every handler's waits (``[worker] min_interval``)
        self.min_interval = max(0.0, min_interval)
        self.observers = list(observers or [])
        self.running: dict[str, RunningTask] = {}
        self.waiting: deque[tuple[Task, Claim]] = deque()
        self.failed_tasks = 0
        self.last_poll: Optional[float] = None
        self._lock = threading.RLock()
        self._warm_stop = threading.Event()
        self._cold_stop = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._source: Optional[TaskSource] = None
        self._fatal: Optional[BaseException] = None
        self._poller_done = threading.Event()
        self._poller: Optional[threading.Thread] = None
        #: called about twice a second from the main thread (state file, systemd watchdog)
        self.tickers: list[Callable[[Host], None]] = []
        self.started = time.time()
        self.ready_at: Optional[float] = None
        self.source_name = ""

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
        with self._idle:
            self._idle.notify_all()

    def install_signal_handlers(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            log.info("received %s", signal.Signals(signum).name)
            self.request_stop()
        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    @property
    def stopping(self) -> bool:
        return self._warm_stop.is_set()

    # -- main loop ----------------------------------------------------------------------------
    def run(self, source: TaskSource, specs: Mapping[str, Any] | None = None) -> int:
        """Run until the source is exhausted and idle, or a stop; return the exit code."""
        self._source = source
        self.source_name = source.name
        try:
            source.open(dict(specs or {}), self._warm_stop)
            if not self._warm_stop.is_set():
                self.ready_at = time.time()
                self._poller = threading.Thread(target=self._poll_loop, args=(source,),
                                                name="emworker-poller", daemon=True)
                self._poller.start()
                with self._idle:
                    while not self._warm_stop.is_set() and self._fatal is None \
                            and not (self._poller_done.is_set() and not self.running
                                     and not self.waiting):
                        self._idle.wait(0.5)
                        self._tick()
            if self._fatal is not None:
                raise self._fatal
            return self._shutdown()
        finally:
            source.close()

    def _tick(self) -> None:
        for ticker in self.tickers:
            try:
                ticker(self)
            except Exception as exc:
                log.warning("periodic check failed: %s", exc)

    @property
    def poller_alive(self) -> bool:
        return self._poller is not None and self._poller.is_alive()

    def snapshot(self) -> dict[str, Any]:
        """What the worker is doing, for the state file and ``emworker status``."""
        with self._lock:
            tasks = [{"id": rt.task.id, "name": rt.task.name, "plugin": rt.claim.plugin,
                      "action": rt.task.action, "started": rt.started,
                      "last_event_time": rt.last_event_time,
                      "last_event": {k: v for k, v in (rt.last_event or {}).items()
                                     if k != "stack"}}
                     for rt in self.running.values()]
            waiting = [{"id": t.id, "name": t.name} for t, _ in self.waiting]
        return {"started": self.started, "ready": self.ready_at, "source": self.source_name,
                "last_poll": self.last_poll, "stopping": self.stopping, "tasks": tasks,
                "waiting": waiting, "failed_tasks": self.failed_tasks}

    def _poll_loop(self, source: TaskSource) -> None:
        while not self._warm_stop.is_set():
            try:
                tasks = source.poll(self._warm_stop)
                self.last_poll = time.time()
            except AuthenticationError as exc:
                self._fatal = exc
                break
            except Exception as exc:  # sources retry themselves; this is a bug or a surprise
                log.exception("task source failed: %s", exc)
                if self._warm_stop.wait(5):
                    break
                continue
            for task in tasks:
                if self._warm_stop.is_set():
                    break
                try:
                    self.submit(task)
                except Exception as exc:  # the poller must outlive any one task
                    log.error("task %s (%s) could not be started: %s", task.id, task.name, exc)
            if source.exhausted:
                break
        with self._idle:
            self._poller_done.set()
            self._idle.notify_all()

    def _shutdown(self) -> int:
        self._tick()
        with self._lock:
            pending = list(self.running.values())
            self.waiting.clear()
        for rt in pending:
            rt.stop_event.set()
        deadline = time.monotonic() + self.grace_period
        for rt in pending:
            while rt.thread is not None and rt.thread.is_alive() and not self._cold_stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                rt.thread.join(min(0.2, remaining))
        stuck = [rt for rt in pending if rt.thread is not None and rt.thread.is_alive()]
        for rt in stuck:  # their threads are daemons: the process can exit regardless
            log.error("task %s (%s) did not stop within %ss", rt.task.id, rt.task.name,
                      self.grace_period)
            self._interrupted(rt)
        if stuck:
            return exitcodes.FORCED
        source = self._source
        rejected = getattr(source, "rejected", 0)  # malformed tasks a local file held
        if source is not None and source.exhausted and (self.failed_tasks or rejected):
            return exitcodes.TASKS_FAILED
        return exitcodes.OK

    # -- tasks ----------------------------------------------------------------------------------
    def submit(self, task: Task) -> None:
        """Route and start ``task`` unless it runs already; queue it when limits are reached."""
        with self._lock:
            if task.id in self.running or any(t.id == task.id for t, _ in self.waiting):
                log.debug("task %s already running; not started twice", task.id)
                return
        try:
            claim = self.router.resolve(task)
        except TaskError as exc:
            log.error("task %s (%s): %s", task.id, task.name, exc)
            with self._lock:
                self.failed_tasks += 1
            try:
                self._send(task, None, {"error": str(exc), "done": 1})
            except Exception as send_exc:  # still pending in EMhub: the re-check retries it
                log.error("could not report task %s: %s", task.id, send_exc)
            return
        with self._lock:
            self.waiting.append((task, claim))
        self._start_waiting()

    def _can_start(self, task: Task) -> bool:
        if len(self.running) >= self.max_tasks:
            return False
        limit = self.max_tasks_per_name.get(task.name)
        return limit is None or sum(rt.task.name == task.name
                                    for rt in self.running.values()) < limit

    def _start_waiting(self) -> None:
        with self._lock:
            if self._warm_stop.is_set():
                return
            for _ in range(len(self.waiting)):
                task, claim = self.waiting.popleft()
                if not self._can_start(task):
                    self.waiting.append((task, claim))
                    continue
                rt = RunningTask(task, claim)
                rt.thread = threading.Thread(target=self._run_one, args=(rt,), daemon=True,
                                             name=f"task-{task.name}-{task.id}")
                self.running[task.id] = rt
                log.info("task %s (%s) started by plugin %s", task.id, task.name, claim.plugin)
                rt.thread.start()

    def _run_one(self, rt: RunningTask) -> None:
        task, claim = rt.task, rt.claim
        context = TaskContext(task=task, send=lambda event: self._send(task, claim, event, rt),
                              plugin=claim.plugin, config=self.plugin_config(claim.plugin),
                              services=self._source.services if self._source else None,  # type: ignore[arg-type]
                              runner=self.runner, stop_event=rt.stop_event,
                              min_interval=self.min_interval)
        try:
            try:
                handler = claim.factory(context)
                if not isinstance(handler, TaskHandler):
                    raise TypeError(f"plugin {claim.plugin} returned {type(handler).__name__}, "
                                    f"not a TaskHandler")
            except Exception as exc:  # a constructor failure ends this task only
                send_failure(TaskHandler(context), exc)
                rt.outcome = Outcome.FAILED
            else:
                rt.outcome = run_task(handler, max_iterations=self.max_iterations)
            if rt.outcome is Outcome.FAILED:
                with self._lock:
                    self.failed_tasks += 1
            elif rt.outcome is Outcome.STOPPED and self._warm_stop.is_set():
                self._interrupted(rt)
            log.info("task %s (%s) ended: %s", task.id, task.name, rt.outcome.value)
        finally:
            with self._idle:
                self.running.pop(task.id, None)
                self._idle.notify_all()
            self._start_waiting()

    def _interrupted(self, rt: RunningTask) -> None:
        """Tell the source a task was stopped by shutdown: no ``done``, so it is resumed."""
        try:
            self._send(rt.task, rt.claim, {"interrupted": 1, "msg": "worker stopped; the task "
                                           "resumes when the worker starts again"}, rt)
        except Exception as exc:  # not reported, but still pending: resumed all the same
            log.warning("could not report task %s as interrupted: %s", rt.task.id, exc)

    def _send(self, task: Task, claim: Optional[Claim], event: Mapping[str, Any],
              rt: RunningTask | None = None) -> None:
        encoded = encode_event(event)
        log.info("event task=%s name=%s plugin=%s keys=%s", task.id, task.name,
                 claim.plugin if claim else "-", ",".join(sorted(encoded)))
        if rt is not None:
            rt.last_event, rt.last_event_time = encoded, time.time()
        for observer in self.observers:
            try:
                observer(task, claim, encoded)
            except Exception as exc:
                log.warning("event observer failed: %s", exc)
        if self._source is None:
            raise RuntimeError("no task source")
        self._source.send(task, encoded)
