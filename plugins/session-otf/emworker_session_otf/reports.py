"""The task's events as session-otf sends them: each with the configured ``maxlen``, and
an error or status repeated only when it changed (a step every few seconds must not flood
the task's history)."""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping


class TaskReports:
    """Events of one task, sent through ``update`` (the handler's)."""

    def __init__(self, update: Callable[[Mapping[str, Any]], object],
                 logger: logging.LoggerAdapter[Any], maxlen: int) -> None:
        self.update, self.logger, self.maxlen = update, logger, maxlen
        self._last: tuple[Any, ...] = ()

    def send(self, **fields: Any) -> None:
        self.update({**fields, "maxlen": self.maxlen})

    def once(self, **fields: Any) -> None:
        """An event only when it differs from the last one: history is not flooded."""
        key = tuple(sorted(fields.items()))
        if key != self._last:
            self._last = key
            if "error" in fields:
                self.logger.error("%s", fields["error"])
            self.send(**fields)
