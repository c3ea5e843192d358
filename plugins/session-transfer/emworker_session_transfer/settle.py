"""Which files have settled: unchanged (size and mtime) for a quiet period we measured.

Times are our own observation times, never the file's mtime, so clocks on acquisition
servers that run ahead do not matter. A change refreshes the record (the original kept
the first record forever and so never transferred a file first seen while written).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass
class Sighting:
    size: int
    mtime_ns: int
    since: float  # when we first saw this size and mtime


class SettleTracker:
    def __init__(self, quiet_seconds: float) -> None:
        self.quiet = quiet_seconds
        self._seen: dict[str, Sighting] = {}

    def observe(self, rel: str, size: int, mtime_ns: int, now: float) -> bool:
        """Record a sighting; True once the file has not changed for the quiet period."""
        old = self._seen.get(rel)
        if old is None or old.size != size or old.mtime_ns != mtime_ns:
            self._seen[rel] = Sighting(size, mtime_ns, now)
            return False
        return now - old.since >= self.quiet

    def forget(self, rel: str) -> None:
        self._seen.pop(rel, None)

    def keep_only(self, present: Iterable[str]) -> None:
        """Drop records of files that vanished (EPU's temporary files do)."""
        keep = set(present)
        for rel in [r for r in self._seen if r not in keep]:
            del self._seen[rel]

    @property
    def pending(self) -> int:
        return len(self._seen)
