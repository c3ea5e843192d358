"""The ``frames-monitor`` task: scan the frames root every period, report what changed."""

from __future__ import annotations

import os
import time
from typing import Any

from emhub_worker_core import TaskHandler

from .report import SendPolicy, disk_usage, snapshot_event, snapshot_key
from .scanner import RootUnavailable, ScanCancelled, TreeScanner
from .settings import FramesSettings, load_settings, outside_of


class FramesMonitorHandler(TaskHandler):
    """Never finishes on its own: a missing root or a failed scan is an error event, and
    the next period tries again. Only a setting that can never work ends the task."""

    interval = 30.0
    snapshot_fields = ("entries", "usage", "root")  # what the Worker Frames page reads
    error = ""  # the error of the last event sent, "" after a listing

    def setup(self) -> None:
        self.settings: FramesSettings = load_settings(self.args, self.config, self.emhub)
        self.interval = self.settings.period
        self.root = str(self.settings.root)
        self.scanner = TreeScanner(self.root, self.settings.movie_rule,
                                   hot_window=self.settings.hot_window,
                                   threads=self.settings.scan_threads,
                                   processes=self.settings.scan_processes,
                                   stop=self.context.stop_event)
        self.policy = SendPolicy(self.settings.heartbeat, self.context.monotonic)
        self.logger.info("monitoring %s (root from %s) every %.0f s", self.root,
                         self.settings.root_source, self.settings.period)

    def process(self) -> None:
        started = time.monotonic()
        try:
            self._check_root()
            result = self.scanner.scan()
            usage = disk_usage(self.root)
        except RootUnavailable as exc:
            self._send_error(str(exc))
            return
        except ScanCancelled:  # the task is stopping: its scan child is already killed
            return
        except Exception as exc:  # a bug or an odd filesystem: report it, try again next period
            self.logger.exception("scan of %s failed", self.root)
            self._send_error(f"{type(exc).__name__}: {exc}", exc)
            return
        if result.child_problem:
            self.logger.warning("%s", result.child_problem)
        for problem in result.problems:
            self.logger.warning("%s", problem)
        event = snapshot_event(self.root, result.entries, usage, result.problems,
                               time.monotonic() - started)
        key = snapshot_key(event, self.settings.usage_step)
        reason = self.policy.reason(key, is_error=False)
        self.logger.debug("scan: %s; send: %s", result.stats, reason)
        if reason is not None:
            self.update({**event, "reason": reason})  # raises if EMhub did not take it
            self.policy.sent(key, is_error=False)
            self.error = ""

    def _check_root(self) -> None:
        if self.settings.confine_to:
            outside = outside_of(self.root, self.settings.confine_to)
            if outside:  # a folder on the share swapped for a link since setup
                raise RootUnavailable(f"{outside}; not scanned")
        self._check_mounted()

    def _check_mounted(self) -> None:
        # An unmounted share leaves an empty mount-point folder: that must not read as
        # "all sessions are gone".
        if self.settings.expect_mount and not os.path.ismount(self.root):
            raise RootUnavailable(f"frames root {self.root} is not mounted")

    def _send_error(self, message: str, exc: BaseException | None = None) -> None:
        key = ("error", message)
        reason = self.policy.reason(key, is_error=True)
        if reason is None:
            return
        fields: dict[str, Any] = {"maxlen": 2, "root": self.root, "reason": reason}
        if exc is not None:
            self.report_error(exc, **fields)
        else:
            self.logger.error("%s", message)
            self.update({**fields, "error": message})
        self.policy.sent(key, is_error=True)
        self.error = message

    def snapshot(self) -> dict[str, Any]:
        """After an error, the last event the host sends (``interrupted``) repeats the error,
        not an older listing: the Worker Frames page then skips this host, as it did for the
        error itself, instead of failing on an event without ``entries``."""
        if self.error:
            return {"maxlen": 2, "root": self.root, "error": self.error}
        return super().snapshot()
