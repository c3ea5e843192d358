"""EMhub as the host's task source, and EMhub's services for handlers.

The poll loop: on start, connect (log in, ``connect_worker``) and resume this worker's
pending tasks; then long-poll ``get_new_tasks`` (read timeout above EMhub's 60 s hold),
and every ``pending_recheck`` seconds ask ``get_pending_tasks`` again, because a poll the
client gave up on can still receive a task on the server, which then sits pending and
would otherwise be stranded. A task whose ``done`` this process delivered is never
returned again, so a stale pending list cannot start a finished task twice.

The long poll runs in a thread of its own (:class:`LongPoll`) so that the re-checks run
on time while it is held. For :data:`CATCH_UP_WINDOW` seconds after each connect, and
after a long poll this client gave up on (``poll_timeout``), they run every
:data:`CATCH_UP_EVERY` seconds: a previous process of this worker (killed, restarted,
upgraded) may have left a long poll open on EMhub, which takes the next task created for
this worker; such a task sits pending, and is picked up within two seconds, not a minute.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, List, Mapping

from ...contract.commands import Runner
from ...contract.emhub_services import JSON, EMhubServices
from ...contract.errors import (
    AuthenticationError,
    EMhubError,
    PollTimeout,
    ServerBusy,
    ServerError,
    TaskError,
    TokenRejected,
)
from ...contract.events import EncodedEvent
from ...contract.task import Task
from ..base import TaskSource
from .backoff import Backoff, OutageLog
from .client import EMhubClient
from .longpoll import LongPoll
from .retry import PROBE_RETRY_CAP, PROBE_RETRY_FLOOR, Retrier, is_retryable
from .settings import SERVER_POLL_BLOCK, EMhubSettings
from .specs import worker_specs

log = logging.getLogger("emworker.emhub")

FINISHED_MEMORY = 10_000  # ids of finished tasks remembered against stale pending lists
#: The poll loop's backoff is the probe's (see :mod:`.probe`): one request at a time.
POLL_RETRY_FLOOR = PROBE_RETRY_FLOOR
POLL_RETRY_CAP = PROBE_RETRY_CAP
#: How long a long poll abandoned by an earlier process (or by us) may still be held by
#: EMhub: its 60 s ``XREADGROUP`` block, plus a margin for the request on its way.
CATCH_UP_WINDOW = 65.0
#: The pending re-check's period during that window: a task taken by such a poll starts
#: within about this long, at the cost of under one extra request a second.
CATCH_UP_EVERY = 1.5


class RemoteServices:
    """What handlers may ask of EMhub (``handler.emhub``); each call retried within bounds."""

    def __init__(self, source: EMhubTaskSource) -> None:
        self._source = source

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        return self._source.bounded(what, fn)

    def request_config(self, name: str) -> JSON:
        return dict(self._call(f"get_config {name}", lambda: self._source.client.get_config(name)))

    def get_session(self, session_id: int) -> JSON:
        client = self._source.client
        return dict(self._call(f"get_session {session_id}",
                               lambda: client.get_session(session_id)))

    def get_session_users(self, session_id: int) -> JSON:
        client = self._source.client
        return dict(self._call(f"get_session_users {session_id}",
                               lambda: client.get_session_users(session_id)))

    def get_resources(self) -> List[JSON]:
        return list(self._call("get_resources", self._source.client.get_resources))

    def update_session_extra(self, session_id: int, extra: Mapping[str, Any]) -> JSON:
        client = self._source.client
        return dict(self._call(f"update_session_extra {session_id}",
                               lambda: client.update_session_extra(session_id, extra)))

    def set_session_data_path(self, session_id: int, data_path: str) -> JSON:
        client = self._source.client
        return dict(self._call(f"set_session_data_path {session_id}",
                               lambda: client.set_session_data_path(session_id, data_path)))


class EMhubTaskSource(TaskSource):
    """Tasks from one EMhub server for one registered worker name."""

    name = "emhub"

    def __init__(self, client: EMhubClient, settings: EMhubSettings, *,
                 runner: Runner | None = None, clock: Callable[[], float] = time.monotonic,
                 rand: Callable[[], float] = random.random,
                 outage: OutageLog | None = None) -> None:
        self.client = client
        self.settings = settings
        self.runner = runner
        self.clock = clock
        self.outage = outage or OutageLog(clock=clock)
        self.retrier = Retrier(self.outage, settings.retry_max_delay, clock, rand,
                               on_token_rejected=self._token_rejected)
        self.services: EMhubServices = RemoteServices(self)
        self._stop = threading.Event()
        self._specs: dict[str, Any] = {}
        self._connect_lock = threading.Lock()
        self._need_connect = True
        self._next_pending_check = 0.0  # 0: check at once (start-up resumes pending tasks)
        self._catch_up_until = 0.0  # re-check every CATCH_UP_EVERY s until then
        self._resumed = False  # the first pending check after a connect ran
        self._long_poll: LongPoll[list[JSON]] | None = None
        self._rand = rand
        self._poll_backoff = self._new_poll_backoff()
        self._seen: OrderedDict[str, None] = OrderedDict()  # bounded: a worker runs for years
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._finished_lock = threading.Lock()

    def _new_poll_backoff(self) -> Backoff:
        return self.retrier.backoff()

    # -- connection ---------------------------------------------------------------------------
    @property
    def worker(self) -> str:
        return self.client.worker

    def _token_rejected(self) -> None:
        self._need_connect = True

    def connect(self) -> None:
        """Log in and ``connect_worker`` (once, whichever thread gets here first)."""
        with self._connect_lock:
            if not self._need_connect:
                return
            self.client.login()
            self.client.connect_worker(self._specs)
            self._need_connect = False
            self._resumed = False
            self._catch_up()  # an earlier process's long poll may still be open
            log.info("connected to EMhub %s as worker %s", self.settings.url, self.worker)

    def open(self, specs: Mapping[str, Any], stop: threading.Event) -> None:
        """Connect, retrying until it works or ``stop``; AuthenticationError is fatal."""
        self._stop = stop
        self._specs = worker_specs(specs, self.runner)
        try:
            self.retrier.call("connect", self.connect, window=None, stop=stop,
                              backoff=self._new_poll_backoff())
        except AuthenticationError:
            raise
        except EMhubError:
            if not stop.is_set():
                raise
            log.info("stopped before EMhub could be reached")

    def bounded(self, what: str, fn: Callable[[], Any]) -> Any:
        """A handler's call: reconnect if needed, retry within a bounded window.

        A stop cuts the retrying short (shutting down, one attempt): the task stays
        pending on the server and resumes with the next start."""
        window = max(120.0, 2 * self.settings.retry_max_delay)

        def attempt() -> Any:
            if self._need_connect:
                self.connect()
            return fn()
        return self.retrier.call(what, attempt, window=window, stop=self._stop)

    def connection(self) -> dict[str, Any]:
        """How the link to EMhub is, for the state file: since when it fails, how often."""
        outage = self.outage
        if not outage.down:
            return {"state": "connected" if not self._need_connect else "connecting"}
        return {"state": "failing", "since": outage.since_wall,
                "attempts": outage.failures, "last_error": outage.last_error}

    # -- tasks --------------------------------------------------------------------------------
    def _catch_up(self) -> None:
        """Re-check pending tasks now, then every CATCH_UP_EVERY s for CATCH_UP_WINDOW s."""
        self._catch_up_until = self.clock() + CATCH_UP_WINDOW
        self._next_pending_check = 0.0

    def _recheck_every(self) -> float:
        if self.clock() < self._catch_up_until:
            return min(CATCH_UP_EVERY, self.settings.pending_recheck)
        return self.settings.pending_recheck

    def poll(self, stop: threading.Event) -> list[Task]:
        """One round: the pending tasks when a re-check is due, else what the long poll
        brought (waiting for it at most until the next re-check is due)."""
        if stop.is_set():
            return []
        gate = self.retrier.gate
        if not gate.claim():  # EMhub is down and another call probes it: no request
            gate.wait_turn(stop, self.retrier.closed, None, self.clock)
            return []
        try:
            if self._need_connect:
                self.connect()
            long_poll = self._long_poll
            if self.clock() >= self._next_pending_check and \
                    not (long_poll is not None and long_poll.finished):
                records = self.client.get_pending_tasks()
                self._next_pending_check = self.clock() + self._recheck_every()
                self._succeeded()
                # the first check after a connect resumes; a later one finds what a
                # long poll nobody read took
                tasks = self._accept(records, "pending" if self._resumed else "resumed")
                self._resumed = True
                if tasks:  # start them now, not after the long poll
                    return tasks
            if long_poll is None:
                long_poll = self._long_poll = LongPoll(self.client.get_new_tasks)
            if not long_poll.wait(self._next_pending_check - self.clock()) or stop.is_set():
                return []  # a re-check is due (or a stop): the long poll goes on
            self._long_poll = None
            tasks = self._accept(long_poll.result(), "new")
            self._succeeded()
            return tasks
        except PollTimeout as exc:
            # Only a problem when the timeout is above EMhub's own 60 s hold.
            level = logging.WARNING if self.settings.poll_timeout > SERVER_POLL_BLOCK + 5 \
                else logging.DEBUG
            log.log(level, "%s", exc)
            self._catch_up()  # EMhub may still hold the poll we gave up on
            return []
        except AuthenticationError:
            raise
        except EMhubError as exc:
            if not is_retryable(exc) or isinstance(exc, ServerBusy) and "NOGROUP" in str(exc):
                self._need_connect = True  # an unexpected answer: connect afresh next time
            # Resume at once when EMhub answers again. No catch-up window: a server that
            # went down took its polls with it (a cut connection leaves one, which the
            # pending re-check finds on time).
            self._next_pending_check = 0.0
            self.retrier.failed("poll", exc)
            if gate.claim():  # the probe: wait, then try again; else wait for the probe
                self.retrier.wait(self._poll_backoff.next_delay(), stop)
            return []

    def _succeeded(self) -> None:
        self._poll_backoff.reset()
        self.outage.success()
        self.retrier.gate.release()

    def _accept(self, records: list[JSON], kind: str) -> list[Task]:
        tasks = []
        for record in records:
            try:
                task = Task.from_json(record)
            except TaskError as exc:
                self._reject(record, exc)
                continue
            if self.is_finished(task.id):
                continue  # a pending list read before our `done` arrived
            if task.id not in self._seen:
                self._seen[task.id] = None
                if len(self._seen) > FINISHED_MEMORY:
                    self._seen.popitem(last=False)
                how = {"resumed": "resuming pending task %s (%s)",
                       "pending": "picking up pending task %s (%s): EMhub gave it to a "
                                  "long poll nobody read (an earlier process's, or one cut "
                                  "short)"}.get(kind, "received task %s (%s)")
                log.info(how, task.id, task.name)
            tasks.append(task)
        return tasks

    def _reject(self, record: Any, exc: TaskError) -> None:
        """A malformed task: report it on the task when it has an id, and go on."""
        task_id = record.get("id") if isinstance(record, Mapping) else None
        log.error("malformed task from EMhub: %s", exc)
        if not isinstance(task_id, str) or not task_id or self.is_finished(task_id):
            return
        try:
            self.send(Task(task_id, str(record.get("name") or "?")),
                      {"error": f"malformed task: {exc}", "done": 1})
        except EMhubError as send_exc:
            log.error("could not report malformed task %s: %s", task_id, send_exc)

    def is_finished(self, task_id: str) -> bool:
        with self._finished_lock:
            return task_id in self._finished

    def send(self, task: Task, event: EncodedEvent) -> None:
        """Deliver one event, retried within bounds; raises when it cannot."""
        try:
            self.bounded(f"update_task {task.id}",
                         lambda: self.client.update_task(task.id, event))
        except ServerError as exc:
            log.error("task %s: event not stored: %s", task.id, exc)
            raise
        if "done" in event:
            with self._finished_lock:
                self._finished[task.id] = None
                while len(self._finished) > FINISHED_MEMORY:
                    self._finished.popitem(last=False)

    @property
    def exhausted(self) -> bool:
        return False  # EMhub may always send another task

    def stopping(self, deadline: float) -> None:
        """Shutting down: every call from now on ends by ``deadline`` (monotonic)."""
        self.client.deadline = deadline

    def close(self) -> None:
        self.retrier.closed.set()
        self.client.close()


__all__ = ["EMhubTaskSource", "RemoteServices", "TokenRejected"]
