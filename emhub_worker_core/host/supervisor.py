"""Task threads: start within the limits, run each handler, stop them all on shutdown.

The :class:`Supervisor` owns the running and waiting tables (under one lock) and every
event a task sends on its way to the source. A task's last event from the host
(``interrupted``, a constructor failure) repeats the handler's snapshot fields, so a
page that reads only the last event still renders (see ``TaskHandler.snapshot_fields``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from ..contract.commands import Runner
from ..contract.emhub_services import EMhubServices, NoServices
from ..contract.events import EncodedEvent, encode_event
from ..contract.handler import DEFAULT_MIN_INTERVAL, Outcome, TaskContext, TaskHandler
from ..contract.task import Task
from .routing import Claim
from .task_loop import run_task, send_failure

log = logging.getLogger("emworker.host")

EventObserver = Callable[[Task, Optional[Claim], EncodedEvent], None]
Deliver = Callable[[Task, EncodedEvent], None]

INTERRUPTED_MSG = "worker stopped; the task resumes when the worker starts again"


@dataclass
class RunningTask:
    """Book-keeping for one task thread (also what `emworker status` shows)."""

    task: Task
    claim: Claim
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: Optional[threading.Thread] = None
    started: float = field(default_factory=time.time)
    outcome: Optional[Outcome] = None
    handler: Optional[TaskHandler] = None
    last_event: Optional[EncodedEvent] = None
    last_event_time: Optional[float] = None
    #: the event on its way to the source right now (None between deliveries)
    delivering: Optional[EncodedEvent] = None


class Supervisor:
    """Starts tasks within ``max_tasks``/``max_tasks_per_name`` and runs each in a thread."""

    def __init__(self, deliver: Deliver, *, plugin_config: Callable[[str], Mapping[str, Any]],
                 runner: Runner, max_tasks: int, max_tasks_per_name: Mapping[str, int],
                 max_iterations: int | None, observers: list[EventObserver],
                 changed: Callable[[], None],
                 min_interval: float = DEFAULT_MIN_INTERVAL,
                 state_dir: Optional[Path] = None) -> None:
        self.deliver = deliver
        self.plugin_config = plugin_config
        self.runner = runner
        self.max_tasks = max(1, max_tasks)
        self.max_tasks_per_name = dict(max_tasks_per_name)
        self.max_iterations = max_iterations
        #: the admin's floor on every handler's waits (``[worker] min_interval``)
        self.min_interval = max(0.0, min_interval)
        #: the worker's state folder; each plugin gets ``plugins/<name>`` below it
        self.state_dir = state_dir
        self.observers = observers
        self.changed = changed  # tells the main loop that the state changed
        self.services: EMhubServices = NoServices()
        self.running: dict[str, RunningTask] = {}
        self.waiting: deque[tuple[Task, Claim]] = deque()
        self.failed_tasks = 0
        self.lock = threading.RLock()
        self.closed = False  # no task starts any more (shutdown)

    # -- starting ------------------------------------------------------------------------------
    def known(self, task_id: str) -> bool:
        with self.lock:
            return task_id in self.running or any(t.id == task_id for t, _ in self.waiting)

    def enqueue(self, task: Task, claim: Claim) -> None:
        with self.lock:
            self.waiting.append((task, claim))
        self.start_waiting()

    def count_failure(self) -> None:
        with self.lock:
            self.failed_tasks += 1

    def _can_start(self, task: Task) -> bool:
        if len(self.running) >= self.max_tasks:
            return False
        limit = self.max_tasks_per_name.get(task.name)
        return limit is None or sum(rt.task.name == task.name
                                    for rt in self.running.values()) < limit

    def start_waiting(self) -> None:
        with self.lock:
            if self.closed:
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
        self.changed()

    # -- one task ------------------------------------------------------------------------------
    def _run_one(self, rt: RunningTask) -> None:
        task, claim = rt.task, rt.claim
        # The handler encoded its event already: deliver it as it is (encoded once).
        context = TaskContext(task=task, send=lambda event: self.send(rt, event),
                              plugin=claim.plugin, config=self.plugin_config(claim.plugin),
                              services=self.services, runner=self.runner,
                              stop_event=rt.stop_event, min_interval=self.min_interval,
                              state_dir=self.state_dir / "plugins" / claim.plugin
                              if self.state_dir else None)
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
                rt.handler = handler
                rt.outcome = run_task(handler, max_iterations=self.max_iterations)
            if rt.outcome is Outcome.FAILED:
                self.count_failure()
            elif rt.outcome is Outcome.STOPPED and self.closed:
                self.interrupted(rt)
            log.info("task %s (%s) ended: %s", task.id, task.name, rt.outcome.value)
        finally:
            with self.lock:
                self.running.pop(task.id, None)
            self.start_waiting()

    def interrupted(self, rt: RunningTask) -> None:
        """Tell the source a task was stopped by shutdown: no ``done``, so it is resumed."""
        snapshot = rt.handler.snapshot() if rt.handler is not None else {}
        try:
            self.send(rt, {**snapshot, "interrupted": 1, "msg": INTERRUPTED_MSG})
        except Exception as exc:  # not reported, but still pending: resumed all the same
            log.warning("could not report task %s as interrupted: %s", rt.task.id, exc)

    # -- events --------------------------------------------------------------------------------
    def send(self, rt: RunningTask | None, encoded: EncodedEvent,
             task: Task | None = None, claim: Claim | None = None) -> None:
        """Observers, log line and delivery of one already-encoded event."""
        task = task or (rt.task if rt else None)
        claim = claim or (rt.claim if rt else None)
        assert task is not None
        log.info("event task=%s name=%s plugin=%s keys=%s", task.id, task.name,
                 claim.plugin if claim else "-", ",".join(sorted(encoded)))
        if rt is not None:
            rt.last_event, rt.last_event_time = encoded, time.time()
            self.changed()
        for observer in self.observers:
            try:
                observer(task, claim, encoded)
            except Exception as exc:
                log.warning("event observer failed: %s", exc)
        if rt is None:
            self.deliver(task, encoded)
            return
        rt.delivering = encoded
        try:
            self.deliver(task, encoded)
        finally:
            rt.delivering = None

    def send_new(self, task: Task, claim: Claim | None, event: Mapping[str, Any]) -> None:
        """An event the host writes itself (not a handler's): encoded here, once."""
        self.send(None, encode_event(event), task, claim)

    # -- stopping ------------------------------------------------------------------------------
    def stop_all(self, grace_period: float, cold: threading.Event) -> list[RunningTask]:
        """Ask every task to stop; wait up to ``grace_period`` (or ``cold``); return the stuck."""
        with self.lock:
            self.closed = True
            pending = list(self.running.values())
            self.waiting.clear()
        for rt in pending:
            rt.stop_event.set()
        deadline = time.monotonic() + grace_period
        for rt in pending:
            while rt.thread is not None and rt.thread.is_alive() and not cold.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                rt.thread.join(min(0.2, remaining))
        alive = [rt for rt in pending if rt.thread is not None and rt.thread.is_alive()]
        for rt in alive:
            event = rt.delivering
            if event is not None:  # the handler stopped; EMhub did not answer in time
                log.warning("task %s (%s): event not delivered (keys %s): EMhub did not "
                            "answer within the %gs grace period; the task stays pending "
                            "and resumes when the worker starts again", rt.task.id,
                            rt.task.name, ",".join(sorted(event)), grace_period)
        stuck = [rt for rt in alive if rt.delivering is None]
        for rt in stuck:  # their threads are daemons: the process can exit regardless
            log.error("task %s (%s) did not stop within %ss", rt.task.id, rt.task.name,
                      grace_period)
            self.interrupted(rt)
        return stuck

    def table(self) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """Running and waiting tasks as plain data (for the state file)."""
        with self.lock:
            tasks = [{"id": rt.task.id, "name": rt.task.name, "plugin": rt.claim.plugin,
                      "action": rt.task.action, "started": rt.started,
                      "last_event_time": rt.last_event_time,
                      "last_event": _brief(rt.last_event or {})}
                     for rt in self.running.values()]
            waiting = [{"id": t.id, "name": t.name} for t, _ in self.waiting]
        return tasks, waiting


def _brief(event: EncodedEvent, limit: int = 200) -> dict[str, Any]:
    """An event for the state file: no stack, long values (a frames listing) as their size."""
    return {k: (f"<{len(v)} characters>" if isinstance(v, str) and len(v) > limit else v)
            for k, v in event.items() if k != "stack"}
