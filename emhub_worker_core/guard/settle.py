"""Which files have settled: unchanged (size and mtime) for a quiet period we measured.

Times are our own observation times, never the file's mtime, so an acquisition PC whose
clock runs ahead does not matter. A change refreshes the sighting, so a file first seen
while it is written settles once it stops changing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional


@dataclass
class Sighting:
    size: int
    mtime_ns: int
    since: float  # when we first saw this size and mtime (our clock)


class SettleTracker:
    """Sightings of files by key (a relative or absolute path, as the caller chooses)."""

    def __init__(self, quiet_seconds: float) -> None:
        self.quiet = quiet_seconds
        self._seen: dict[str, Sighting] = {}
        self.last_change: Optional[float] = None   # when a file last appeared or changed

    def observe(self, key: str, size: int, mtime_ns: int, now: float) -> bool:
        """Record a sighting; True once the file has not changed for the quiet period."""
        old = self._seen.get(key)
        if old is None or old.size != size or old.mtime_ns != mtime_ns:
            self._seen[key] = Sighting(size, mtime_ns, now)
            self.last_change = now
            return False
        return now - old.since >= self.quiet

    def since(self, key: str) -> Optional[float]:
        """When the current size and mtime of ``key`` were first seen (None: not tracked)."""
        seen = self._seen.get(key)
        return None if seen is None else seen.since

    def forget(self, key: str) -> None:
        self._seen.pop(key, None)

    def keep_only(self, present: Iterable[str]) -> None:
        """Drop the sightings of files no longer there (EPU's temporary files vanish)."""
        keep = set(present)
        for key in [k for k in self._seen if k not in keep]:
            del self._seen[key]

    @property
    def pending(self) -> int:
        """Files seen and not settled (or not forgotten) yet."""
        return len(self._seen)
