"""Task ``echo``: send ``message`` ``repeat`` times, ``interval`` seconds apart, then done.

Args: ``message`` (str, default "hello"), ``repeat`` (int, default 3), ``interval``
(seconds, default 1). Config (``[plugins.echo]``): ``prefix`` put before every message.
"""

from __future__ import annotations

from emhub_worker_core import TaskError, TaskHandler


class EchoHandler(TaskHandler):
    def setup(self) -> None:
        self.message = str(self.args.get("message", "hello"))
        self.repeat = self.args.get("repeat", 3)
        if not isinstance(self.repeat, int) or self.repeat < 1:
            raise TaskError(f"'repeat' must be a positive integer, got {self.repeat!r}")
        self.interval = float(self.args.get("interval", 1))
        self.prefix = str(self.config.get("prefix", ""))

    def process(self) -> None:
        self.update({"message": self.prefix + self.message, "count": self.count})
        if self.count >= self.repeat:
            self.done(count=self.count)
