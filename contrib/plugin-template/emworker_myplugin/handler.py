"""The task ``myplugin``: counts files in a folder every ``period`` seconds.

Task args: ``folder`` (required), ``period`` (seconds, default 60), ``times`` (steps before
``done``; 0 = until stopped). Plugin config ``[plugins.myplugin]``: ``allowed_root``, a
folder that ``folder`` must be inside.
"""

from __future__ import annotations

import os
from pathlib import Path

from emhub_worker_core import TaskError, TaskHandler


class MyPluginHandler(TaskHandler):
    def setup(self) -> None:
        if "folder" not in self.args:
            raise TaskError("task arg 'folder' is required")
        self.folder = Path(str(self.args["folder"])).resolve()
        root = self.config.get("allowed_root")
        if root and not self.folder.is_relative_to(Path(root).resolve()):
            raise TaskError(f"{self.folder} is outside the allowed root {root}")
        self.interval = float(self.args.get("period", 60))
        self.times = int(self.args.get("times", 0))

    def process(self) -> None:
        try:
            count = sum(1 for entry in os.scandir(self.folder) if entry.is_file())
        except OSError as exc:
            self.report_error(exc)  # reported; the task keeps going
            return
        self.update({"folder": str(self.folder), "files": count})
        if self.times and self.count >= self.times:
            self.done(files=count)
