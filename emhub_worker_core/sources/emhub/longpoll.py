"""EMhub's long poll (``get_new_tasks``) in a thread of its own.

EMhub holds the request for 60 s and its hold cannot be shortened; a client that gives up
early leaves the poll open on the server, where it takes the next task. So the poll loop
never gives up on it: it starts one :class:`LongPoll`, waits for it only until the next
pending re-check is due, and collects the answer on a later round.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, Optional, TypeVar

T = TypeVar("T")


class LongPoll(Generic[T]):
    """One call of ``fn`` in a daemon thread (it must not hold up the process's exit)."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._done = threading.Event()
        self._value: Optional[T] = None
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True,
                                        name="emworker-long-poll")
        self._thread.start()

    def _run(self, fn: Callable[[], T]) -> None:
        try:
            self._value = fn()
        except BaseException as exc:  # handed to the poll loop, which knows what to do
            self._error = exc
        finally:
            self._done.set()

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` (none if not above 0); True once the call ended."""
        return self._done.wait(seconds) if seconds > 0 else self._done.is_set()

    def result(self) -> T:
        """The call's value, or its exception raised here (only once it ended)."""
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


__all__ = ["LongPoll"]
