"""Task ``echo``: send ``message`` ``repeat`` times, ``interval`` seconds apart, then done.

Its settings (``message``, ``repeat``, ``interval``, ``prefix``) are declared once, in
:class:`~emworker_echo.plugin.EchoSettings`; the core checks them and hands them over typed.
"""

from __future__ import annotations

from emhub_worker_core import TaskHandler

from .plugin import EchoSettings


class EchoHandler(TaskHandler):
    def setup(self) -> None:
        self.settings = self.read_settings(EchoSettings)  # a bad arg: error and done
        self.interval = self.settings.interval

    def process(self) -> None:
        self.update({"message": self.settings.prefix + self.settings.message,
                     "count": self.count})
        if self.count >= self.settings.repeat:
            self.done(count=self.count)
