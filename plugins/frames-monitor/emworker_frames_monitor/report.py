"""What to send and when: a full snapshot first, then on change, and as a heartbeat."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any, Callable, Hashable, List, Optional

if TYPE_CHECKING:  # the settings import this module; a listing must not load the scanner
    from .scanner import Entry

#: Disk usage moves whenever anything on that disk is written; a change smaller than
#: this fraction of the disk is not a reason to send (it goes out with the next event).
#: Config ``usage_step`` overrides it (1.0: usage alone never makes a change).
USAGE_STEP = 0.001
#: At most this many problem lines (unreadable folders, loops) in one event.
MAX_PROBLEMS = 20


def disk_usage(root: str) -> dict[str, int]:
    usage = shutil.disk_usage(root)
    return {"total": usage.total, "used": usage.used}


def snapshot_event(root: str, entries: List[Entry], usage: dict[str, int],
                   problems: List[str], elapsed: float) -> dict[str, Any]:
    """The event EMhub's "Worker Frames" page reads (``entries``/``usage`` become JSON)."""
    event: dict[str, Any] = {"maxlen": 2, "root": root,
                             "entries": [e.as_event() for e in entries],
                             "usage": usage, "elapsed": round(elapsed, 3)}
    if problems:
        event["problems"] = problems[:MAX_PROBLEMS]
    return event


def snapshot_key(event: dict[str, Any], usage_step: float = USAGE_STEP) -> Hashable:
    """What must differ for a snapshot to count as a change (not timing, not tiny usage drift)."""
    usage = event["usage"]
    step = max(1, int(usage["total"] * usage_step))
    entries = tuple(tuple(sorted(e.items())) for e in event["entries"])
    return ("snapshot", entries, usage["total"], usage["used"] // step,
            tuple(event.get("problems", ())))


class SendPolicy:
    """Decides whether an event goes out; returns the reason, or None to stay quiet.

    :meth:`reason` only asks; :meth:`sent` records that EMhub took the event. A send that
    failed (EMhub down longer than the core's retry window) leaves the policy as it was,
    so the next scan sends the same change again instead of seeing "nothing new".
    """

    def __init__(self, heartbeat: float, clock: Callable[[], float]) -> None:
        self.heartbeat = heartbeat
        self.clock = clock
        self._last_key: Optional[Hashable] = None
        self._last_was_error = False
        self._last_sent = 0.0

    def reason(self, key: Hashable, is_error: bool) -> Optional[str]:
        if self._last_key is None:
            return "first"
        if key != self._last_key:
            return "recovered" if self._last_was_error and not is_error else "change"
        if self.clock() - self._last_sent >= self.heartbeat:
            return "heartbeat"
        return None

    def sent(self, key: Hashable, is_error: bool) -> None:
        """EMhub stored the event made for ``key``: it is what EMhub now shows."""
        self._last_key, self._last_was_error, self._last_sent = key, is_error, self.clock()
