"""The task ``myplugin``: counts files in a folder every ``period`` seconds.

Task arg ``folder`` (required); the settings (``period``, ``times``, ``allowed_root``) are
declared once in :mod:`emworker_myplugin.settings` and come typed from the core.
"""

from __future__ import annotations

import os
from pathlib import Path

from emhub_worker_core import TaskError, TaskHandler

from .settings import MyPluginSettings


class MyPluginHandler(TaskHandler):
    def setup(self) -> None:
        if "folder" not in self.args:
            raise TaskError("task arg 'folder' is required")
        settings = self.read_settings(MyPluginSettings)  # a bad value: error and done
        self.folder = Path(str(self.args["folder"])).resolve()
        root = settings.allowed_root
        if root and not self.folder.is_relative_to(Path(root).resolve()):
            raise TaskError(f"{self.folder} is outside the allowed root {root}")
        self.interval = settings.period
        self.times = settings.times

    def process(self) -> None:
        try:
            count = sum(1 for entry in os.scandir(self.folder) if entry.is_file())
        except OSError as exc:
            self.report_error(exc)  # reported; the task keeps going
            return
        self.update({"folder": str(self.folder), "files": count})
        if self.times and self.count >= self.times:
            self.done(files=count)
