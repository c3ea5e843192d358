"""What a worker run under systemd does every tick: notify systemd, keep the state file.

READY semantics (deliberate): ``READY=1`` is sent on the first tick, once plugins are
loaded and the main loop runs, *before* EMhub answers. Waiting out an EMhub outage is
part of a worker's normal job, so a worker that is connecting is started, not starting:
``systemctl start`` returns, a server down at boot does not make a ``Type=notify`` unit
hit its start timeout and restart-loop, and the ``STATUS=`` line and the state file say
"connecting" (with attempts and the last error) until EMhub answers.

``WATCHDOG=1`` is sent while the main loop lives and intake (connecting, then polling)
has not died. The state file is written when what it shows changes, and at least every
``heartbeat`` seconds (its ``updated`` field), never on a clock: an idle worker costs
almost nothing.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from pathlib import Path
from typing import Any, Optional

from ..ops.state_file import write_state
from ..ops.systemd_notify import Notifier
from .main_loop import Host

log = logging.getLogger("emworker.service")

HEARTBEAT = 30.0
#: Changes closer together than this are written together (a busy task's events).
MIN_GAP = 1.0


def status_line(host: Host, snapshot: dict[str, Any] | None = None,
                now: float | None = None) -> str:
    """The one line systemd shows (``systemctl status``)."""
    now = time.time() if now is None else now
    snapshot = host.snapshot() if snapshot is None else snapshot
    connection: dict[str, Any] = snapshot.get("connection") or {}
    trouble = ""
    if connection.get("state") == "failing":
        trouble = (f"; EMhub failing since {_ago(connection.get('since'), now)} "
                   f"({connection.get('attempts')} failed call(s)), last error: "
                   f"{connection.get('last_error')}")
    if host.stopping:
        return f"stopping: {len(host.running)} task(s) still running{trouble}"
    if not host.ready_at:
        return f"connecting to the task source{trouble}"
    contact = host.last_poll or host.ready_at  # a long poll returns every ~60 s
    return (f"{len(host.running)} task(s) running, {len(host.waiting)} waiting; "
            f"last contact with the task source {_ago(contact, now)}{trouble}")


def _ago(timestamp: Any, now: float) -> str:
    return f"{now - timestamp:.0f} s ago" if isinstance(timestamp, (int, float)) else "never"


class ServiceMonitor:
    """A host ticker: READY once, WATCHDOG while the loop and intake live, STATUS, state."""

    def __init__(self, state_dir: Optional[Path], worker: str, notifier: Notifier | None = None,
                 heartbeat: float = HEARTBEAT) -> None:
        self.state_dir = state_dir
        self.worker = worker
        self.notifier = notifier or Notifier()
        self.heartbeat = heartbeat
        self._ready_sent = False
        self._stopping_sent = False
        self._last_ping = float("-inf")
        self._last_write = float("-inf")
        self._written: Optional[dict[str, Any]] = None
        self._last_status = ""
        self._state_failed = False
        #: how many times the state file was written (tests, the idle benchmark)
        self.writes = 0
        self._deferred = False  # a change waits for MIN_GAP to pass
        self._identity = {"pid": os.getpid(), "worker": worker,
                          "hostname": socket.gethostname()}

    @property
    def tick_every(self) -> float:
        """What the host's main loop reads: how soon this ticker must run again."""
        every = min(self.heartbeat, self.notifier.watchdog_interval or self.heartbeat)
        return min(every, MIN_GAP) if self._deferred else every

    def __call__(self, host: Host) -> None:
        now = time.monotonic()
        snapshot = host.snapshot()
        status = status_line(host, snapshot)
        if not self._ready_sent:
            self._ready_sent = True
            self.notifier.ready(status)
        elif _gist(status) != _gist(self._last_status):
            self.notifier.status(status)
        self._last_status = status
        if host.stopping and not self._stopping_sent:
            self._stopping_sent = True
            self.notifier.stopping()
        interval = self.notifier.watchdog_interval
        # A dead intake must get us restarted; before it starts, the loop alone counts.
        intake_ok = host.poller_alive or host.ready_at is None and not host.stopping
        if interval and intake_ok and now - self._last_ping >= interval:
            self._last_ping = now
            self.notifier.watchdog()
        if self.state_dir is not None:
            state = {**self._identity, **snapshot}
            since = now - self._last_write
            changed = state != self._written
            # A stop is written at once: it may be the last thing this process writes.
            self._deferred = changed and since < MIN_GAP and not host.stopping
            if not self._deferred and (changed or since >= self.heartbeat):
                self._last_write = now
                self.write(state)

    def write(self, state: dict[str, Any]) -> None:
        try:
            write_state(self.state_dir, {**state, "updated": time.time()})  # type: ignore[arg-type]
            self._written = state
            self.writes += 1
            self._state_failed = False
        except OSError as exc:
            if not self._state_failed:  # say it once, not at every change
                log.error("cannot write the state file in %s: %s", self.state_dir, exc)
            self._state_failed = True


_CLOCKS = re.compile(r"\d+ s ago|\(\d+ failed call\(s\)\)")


def _gist(status: str) -> str:
    """A status line without its clock readings, so STATUS= is sent on change only."""
    return _CLOCKS.sub("", status)
