"""What a worker run under systemd does every tick: notify systemd, keep the state file."""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from typing import Optional

from .host import Host
from .sdnotify import Notifier
from .state import write_state

log = logging.getLogger("emworker.service")


class ServiceMonitor:
    """A host ticker: READY once, WATCHDOG while the poller lives, STATUS, state file."""

    def __init__(self, state_dir: Optional[Path], worker: str, notifier: Notifier | None = None,
                 state_every: float = 1.0) -> None:
        self.state_dir = state_dir
        self.worker = worker
        self.notifier = notifier or Notifier()
        self.state_every = state_every
        self._ready_sent = False
        self._last_ping = 0.0
        self._last_state = 0.0
        self._last_status = ""
        self._state_failed = False

    def status_line(self, host: Host) -> str:
        contact = host.last_poll or host.ready_at  # a long poll returns every ~60 s
        last = f"{time.time() - contact:.0f} s ago" if contact else "never"
        return (f"{len(host.running)} task(s) running, {len(host.waiting)} waiting; "
                f"last contact with the task source {last}")

    def __call__(self, host: Host) -> None:
        now = time.monotonic()
        if host.stopping:
            self.notifier.stopping()
        elif host.ready_at and not self._ready_sent:
            self._ready_sent = True
            self.notifier.ready(self.status_line(host))
        interval = self.notifier.watchdog_interval
        # Ping only while the poller lives: a dead or hung intake must get us restarted.
        if interval and host.poller_alive and now - self._last_ping >= interval:
            self._last_ping = now
            self.notifier.watchdog()
        status = self.status_line(host)
        if self._ready_sent and status.split(";")[0] != self._last_status.split(";")[0]:
            self.notifier.status(status)
        self._last_status = status
        if self.state_dir is not None and now - self._last_state >= self.state_every:
            self._last_state = now
            self.write(host)

    def write(self, host: Host) -> None:
        state = {"pid": os.getpid(), "worker": self.worker, "hostname": socket.gethostname(),
                 "updated": time.time(), **host.snapshot()}
        try:
            write_state(self.state_dir, state)  # type: ignore[arg-type]
            self._state_failed = False
        except OSError as exc:
            if not self._state_failed:  # say it once, not twice a second
                log.error("cannot write the state file in %s: %s", self.state_dir, exc)
            self._state_failed = True
