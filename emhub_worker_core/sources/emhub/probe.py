"""While EMhub is unreachable, one call at a time finds out whether it is back.

Without this, every thread that talks to EMhub (the poll loop, each running task's
``update_task``, a handler's ``get_config``) retried on its own, so a worker with 16
running tasks sent five requests a second into a server that was down. Now the first
call that fails becomes the *probe*: it retries with the poll loop's backoff (at most one
request a second), and every other caller waits until EMhub answers the probe, then goes
on in the order it was already in (each task's events are sent by its own thread, one
after the other, so none is reordered or dropped). If the probe gives up (its window
ends, its task stops), the next caller in line takes over.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

from .backoff import OutageLog

#: How often a waiting caller looks whether the probe is free; EMhub's answer (a recovery)
#: wakes it at once.
TURN_CHECK = 0.1


class ProbeGate:
    """Who may send the next request while :attr:`outage` says EMhub is down."""

    def __init__(self, outage: OutageLog) -> None:
        self.outage = outage
        self._lock = threading.Lock()
        self._holder: Optional[int] = None  # thread id of the probe

    def claim(self) -> bool:
        """True if this thread may send now: EMhub is not known to be down, or this
        thread is (or now becomes) the probe."""
        if not self.outage.down:
            return True
        me = threading.get_ident()
        with self._lock:
            if self._holder is None or self._holder == me:
                self._holder = me
                return True
            return False

    def release(self) -> None:
        """This thread stops probing (its call succeeded, gave up or was stopped)."""
        me = threading.get_ident()
        with self._lock:
            if self._holder == me:
                self._holder = None

    @property
    def probing(self) -> bool:
        """True while some thread holds the probe."""
        return self._holder is not None

    def wait_turn(self, stop: Optional[threading.Event], closed: threading.Event,
                  deadline: Optional[float], clock: Callable[[], float]) -> bool:
        """Wait until EMhub answered the probe or the probe is free (True: try now), or
        until ``stop``, ``closed`` or ``deadline`` (False: give up without a request)."""
        recovered = self.outage.recovered_event()
        while True:
            if not self.outage.down or recovered.is_set() or not self.probing:
                return True
            if closed.is_set() or stop is not None and stop.is_set():
                return False
            if deadline is not None and clock() >= deadline:
                return False
            recovered.wait(TURN_CHECK)
