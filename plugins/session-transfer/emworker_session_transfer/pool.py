"""Copier threads fed through two C-level queues: two hand-offs per file, no futures.

A :class:`concurrent.futures` future per file costs a lock, a condition and their
wake-ups (about a hundred lock hand-offs per small file measured); here a job goes in one
``SimpleQueue`` and its outcome comes back in another.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Optional

Job = tuple[Any, Callable[[], Any]]           # (tag, work)
Outcome = tuple[Any, Any, Optional[BaseException]]   # (tag, result, error)


class CopyPool:
    def __init__(self, workers: int, name: str = "transfer") -> None:
        self._jobs: queue.SimpleQueue[Optional[Job]] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._cancel = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"{name}_{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            tag, work = job
            if self._cancel.is_set():
                self._done.put((tag, None, Cancelled()))
                continue
            try:
                self._done.put((tag, work(), None))
            except BaseException as exc:  # handed to the task thread, which decides
                self._done.put((tag, None, exc))

    def submit(self, tag: Any, work: Callable[[], Any]) -> None:
        self._jobs.put((tag, work))

    def next_outcome(self) -> Outcome:
        return self._done.get()

    def cancelled(self) -> bool:
        """A stop was requested: a bundle under way skips the files it has not started."""
        return self._cancel.is_set()

    def cancel_queued(self, cancel: bool = True) -> None:
        """Jobs not started yet come back as :class:`Cancelled` (a stop was requested)."""
        if cancel:
            self._cancel.set()
        else:
            self._cancel.clear()

    def shutdown(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()


class Cancelled(Exception):
    """The job was dropped before it started."""
