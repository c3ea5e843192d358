"""Calling EMhub until it answers: forever for the worker's own loop, within bounds for handlers.

What is retried: anything that says "not now" (network errors, timeouts, HTTP 5xx, a 401
after which we log in again, EMhub reporting that its Redis is down, a worker token EMhub
no longer knows, after which we connect again). What is not: an authentication failure
(wrong password, unregistered worker name) and an answer about the request itself (an
event EMhub refuses, a session that does not exist).
"""

from __future__ import annotations

import random
import threading
import time
from typing import Callable, Optional, TypeVar

from ..errors import AuthenticationError, EMhubError, ServerError, TransportError
from .backoff import Backoff, OutageLog
from .client import TokenRejected

T = TypeVar("T")


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

    def backoff(self) -> Backoff:
        return Backoff(base=1.0, cap=self.max_delay, rand=self.rand)

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
        while True:
            try:
                result = fn()
            except EMhubError as exc:
                if not is_retryable(exc):
                    raise
                self.failed(what, exc)
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

