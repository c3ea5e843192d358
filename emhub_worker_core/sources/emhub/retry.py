"""Calling EMhub until it answers: forever for the worker's own loop, within bounds for handlers.

What is retried: anything that says "not now" (network errors, timeouts, HTTP 5xx, a 401
after which we log in again, EMhub reporting that its Redis is down, a worker token EMhub
no longer knows, after which we connect again). What is not: an authentication failure
(wrong password, unregistered worker name) and an answer about the request itself (an
event EMhub refuses, a session that does not exist).

While EMhub is down only one call probes it (:mod:`.probe`); the others wait for its
answer without sending anything.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Callable, Optional, TypeVar

from ...contract.errors import (
    AuthenticationError,
    EMhubError,
    ServerError,
    TokenRejected,
    TransportError,
)
from .backoff import Backoff, OutageLog
from .probe import ProbeGate

T = TypeVar("T")

#: The probe's backoff, between 1.2 s (so an outage costs under a request a second per
#: worker, counting the failed call that opened it; measured 1.02/s with a 1 s floor)
#: and 3 s (so work resumes within seconds of EMhub answering again). The other callers
#: send nothing while they wait, so their number does not add to it.
PROBE_RETRY_FLOOR = 1.2
PROBE_RETRY_CAP = 3.0


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, AuthenticationError):
        return False
    if isinstance(exc, TokenRejected):
        return True
    if isinstance(exc, ServerError):
        return False  # EMhub understood the request and said no
    return isinstance(exc, EMhubError)  # transport and protocol trouble: wait it out


class Retrier:
    """Runs calls with capped, jittered backoff; one :class:`OutageLog` for all threads."""

    def __init__(self, outage: OutageLog, max_delay: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 rand: Callable[[], float] = random.random,
                 on_token_rejected: Optional[Callable[[], None]] = None) -> None:
        self.outage = outage
        self.max_delay = max_delay
        self.clock = clock
        self.rand = rand
        self.on_token_rejected = on_token_rejected
        #: set when the source closes: every wait ends at once
        self.closed = threading.Event()
        self.gate = ProbeGate(outage)

    def backoff(self) -> Backoff:
        """The probe's delays (capped by ``retry_max_delay`` when that is lower)."""
        cap = min(PROBE_RETRY_CAP, self.max_delay)
        return Backoff(base=1.0, cap=cap, floor=min(PROBE_RETRY_FLOOR, cap), rand=self.rand)

    def failed(self, what: str, exc: EMhubError) -> None:
        """Record one failure (the outage log decides what to print)."""
        if isinstance(exc, TokenRejected) and self.on_token_rejected is not None:
            self.on_token_rejected()
        self.outage.failure(what, exc)

    def call(self, what: str, fn: Callable[[], T], *, window: float | None,
             stop: threading.Event | None = None, backoff: Backoff | None = None) -> T:
        """``fn()`` until it succeeds, a non-retryable error, ``window`` seconds pass
        (``None``: no limit) or ``stop``/close is set; then the last error is raised.

        Giving up (window or stop) always raises a :class:`TransportError`, so a handler's
        step that gave up is retried by the task loop, never turned into a failed task.
        A ``stop`` already set allows one attempt and no wait."""
        backoff = backoff or self.backoff()
        deadline = None if window is None else self.clock() + window
        try:
            while True:
                if not self.gate.claim():  # another call probes EMhub: wait for its answer
                    if self.gate.wait_turn(stop, self.closed, deadline, self.clock):
                        continue
                    why = "stopped" if self.closed.is_set() or stop is not None \
                        and stop.is_set() else "gave up"
                    raise TransportError(f"{what}: {why} while waiting for EMhub to answer "
                                         f"again ({self.outage.last_error})")
                try:
                    result = fn()
                except EMhubError as exc:
                    if not is_retryable(exc):
                        raise
                    self.failed(what, exc)
                    if not self.gate.claim():
                        continue  # it failed alongside the probe's: wait for the probe
                    delay = backoff.next_delay()
                    why = ""
                    if deadline is not None and self.clock() + delay > deadline:
                        why = f"gave up after {backoff.failures} attempt(s)"
                    elif self.wait(delay, stop):
                        why = "stopped while retrying"
                    if not why:
                        continue
                    if isinstance(exc, TransportError):
                        raise
                    raise TransportError(f"{what}: {why}: {exc}") from exc
                self.outage.success()
                return result
        finally:
            self.gate.release()  # a probe that gives up hands over to the next in line

    def wait(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Sleep, waking early on close or ``stop`` (True) or when EMhub answered another
        thread's call (False: try again now)."""
        recovered = self.outage.recovered_event()
        deadline = time.monotonic() + seconds
        while not (self.closed.is_set() or stop is not None and stop.is_set()):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or recovered.is_set():
                return False
            # Three events to watch and no select() for them: short slices, only while
            # EMhub is failing (a healthy worker never waits here).
            recovered.wait(min(remaining, 0.1))
        return True

