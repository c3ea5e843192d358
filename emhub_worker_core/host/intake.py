"""Intake: the thread that connects to the task source and hands its tasks on.

It runs ``source.open`` (which may wait out an EMhub outage at start-up) and then the
poll loop, so the main loop keeps the state file and systemd informed from the first
second. It ends when the source is exhausted, on a stop, or on an authentication
failure, which it keeps in :attr:`fatal` for the main loop to raise after shutdown.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Mapping, Optional

from ..contract.errors import AuthenticationError, EmworkerError
from ..contract.task import Task
from ..sources.base import TaskSource

log = logging.getLogger("emworker.host")

#: How long the poll loop pauses after a source raised something unexpected (a bug).
SURPRISE_PAUSE = 5.0


class Intake:
    """Open the source, then poll it until stop, exhaustion or a fatal error."""

    def __init__(self, source: TaskSource, specs: Mapping[str, Any], stop: threading.Event,
                 submit: Callable[[Task], None], changed: Callable[[], None]) -> None:
        self.source = source
        self.specs = dict(specs)
        self.stop = stop
        self.submit = submit
        self.changed = changed
        self.ready_at: Optional[float] = None
        self.last_poll: Optional[float] = None
        self.fatal: Optional[BaseException] = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="emworker-intake", daemon=True)

    def start(self) -> None:
        self.thread.start()

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def _run(self) -> None:
        try:
            self.source.open(self.specs, self.stop)
            if not self.stop.is_set():
                self.ready_at = time.time()
                self.changed()
                self._poll_loop()
        except EmworkerError as exc:  # authentication, a source that cannot open: the CLI
            self.fatal = exc          # prints it once, after shutdown
        except BaseException as exc:  # a bug in a source: the main loop reports and exits
            log.exception("task source failed: %s", exc)
            self.fatal = exc
        finally:
            self.done.set()
            self.changed()

    def _poll_loop(self) -> None:
        source = self.source
        while not self.stop.is_set():
            try:
                tasks = source.poll(self.stop)
                self.last_poll = time.time()
            except AuthenticationError:
                raise
            except Exception as exc:  # sources retry themselves; this is a bug or a surprise
                log.exception("task source failed: %s", exc)
                if self.stop.wait(SURPRISE_PAUSE):
                    break
                continue
            for task in tasks:
                if self.stop.is_set():
                    break
                try:
                    self.submit(task)
                except Exception as exc:  # the poller must outlive any one task
                    log.error("task %s (%s) could not be started: %s", task.id, task.name, exc)
            if source.exhausted:
                break
