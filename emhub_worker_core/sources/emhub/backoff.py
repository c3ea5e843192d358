"""Waiting between retries, and logging an outage without flooding the log.

:class:`Backoff` gives capped exponential delays with full jitter (a uniform draw between
0 and ``min(cap, base * 2**n)``), so many workers coming back after an EMhub restart do
not hit it in step. :class:`OutageLog` logs the first failure of an outage, then one
summary a minute, then one line when the server answers again; that recovery also wakes
every retry still waiting, so one thread's success ends the others' backoff. Clock and random source
are injectable for tests.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Callable

log = logging.getLogger("emworker.emhub")


class Backoff:
    """Delays for one retry loop: call :meth:`next_delay` after each failure."""

    def __init__(self, base: float = 1.0, cap: float = 60.0, floor: float = 0.1,
                 rand: Callable[[], float] = random.random) -> None:
        self.base = base
        self.cap = cap
        self.floor = floor  # full jitter may draw ~0: keep a minimum so we never spin
        self.rand = rand
        self.failures = 0

    def ceiling(self) -> float:
        """The largest delay the next draw can give."""
        return float(min(self.cap, self.base * 2 ** min(self.failures, 32)))

    def next_delay(self) -> float:
        delay = max(self.floor, self.rand() * self.ceiling())
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


class OutageLog:
    """One outage, one warning, a summary every ``summary_every`` seconds, one recovery line.

    Shared by every thread talking to EMhub (thread-safe): an EMhub restart seen by the
    poller and by five handlers is still one outage in the log.
    """

    def __init__(self, summary_every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 logger: logging.Logger = log) -> None:
        self.summary_every = summary_every
        self.clock = clock
        self.log = logger
        self._lock = threading.Lock()
        self.since: float | None = None
        self.since_wall: float | None = None  # the same moment, for people (state file)
        self.failures = 0
        self._last_summary = 0.0
        self.last_error = ""
        #: set (then replaced) when EMhub answers again: waits in other threads end early
        self._recovered = threading.Event()

    def recovered_event(self) -> threading.Event:
        """The event the next recovery sets; take it *before* waiting."""
        return self._recovered

    @property
    def down(self) -> bool:
        return self.since is not None

    def failure(self, what: str, exc: BaseException) -> None:
        now = self.clock()
        with self._lock:
            self.failures += 1
            self.last_error = f"{what}: {exc}"
            if self.since is None:
                self.since = self._last_summary = now
                self.since_wall = time.time()
                self.log.warning("EMhub call failed (%s); retrying with backoff, "
                                 "next report in %.0f s", self.last_error, self.summary_every)
            elif now - self._last_summary >= self.summary_every:
                self._last_summary = now
                self.log.warning("EMhub still failing after %.0f s and %d failed call(s); "
                                 "last: %s", now - self.since, self.failures, self.last_error)

    def success(self) -> None:
        if self.since is None:  # the common case: no lock
            return
        now = self.clock()
        with self._lock:
            if self.since is not None:
                self.log.info("EMhub answers again after %.1f s and %d failed call(s)",
                                 now - self.since, self.failures)
                self.since = None
                self.failures = 0
                recovered, self._recovered = self._recovered, threading.Event()
                recovered.set()  # wake every retry waiting out this outage
