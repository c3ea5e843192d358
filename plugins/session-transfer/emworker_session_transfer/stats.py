"""``session.extra.raw``: what EMhub's pages read about the transferred files (no None).

:class:`SessionStats` keeps the figures incrementally, O(1) per file, so a 100k-file
session costs the same per file as a 3k one (recomputing over every file after each
batch made the transfer quadratic).
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Optional, Protocol

Key = tuple[float, str]   # (mtime, path): the order of "first" and "last"


class FileFacts(Protocol):
    path: str
    size: int
    movie: bool

    @property
    def mtime(self) -> float: ...


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"  # pragma: no cover


def _ext(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[1]


class SessionStats:
    """Per-extension counts and sizes, totals, first/last file and movie."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[int, float, bool]] = {}   # path -> size, mtime, movie
        self._reset()

    def _reset(self) -> None:
        self.per_ext: dict[str, dict[str, int]] = {}
        self.size = 0
        self.movies = 0
        self.first: Optional[Key] = None
        self.last: Optional[Key] = None
        self.first_movie: Optional[Key] = None
        self.last_movie: Optional[Key] = None

    def add(self, path: str, size: int, mtime: float, movie: bool) -> None:
        old = self._known.get(path)
        self._known[path] = (size, mtime, movie)
        if old is not None:  # a file transferred again (changed at the source): rare
            self._rebuild()
            return
        self._count(path, size, mtime, movie)

    def add_file(self, item: FileFacts) -> None:
        self.add(item.path, item.size, item.mtime, item.movie)

    def _count(self, path: str, size: int, mtime: float, movie: bool) -> None:
        stat = self.per_ext.get(_ext(path))
        if stat is None:
            stat = self.per_ext[_ext(path)] = {"count": 0, "size": 0}
        stat["count"] += 1
        stat["size"] += size
        self.size += size
        key = (mtime, path)
        if self.first is None or key < self.first:
            self.first = key
        if self.last is None or key > self.last:
            self.last = key
        if movie:
            self.movies += 1
            if self.first_movie is None or key < self.first_movie:
                self.first_movie = key
            if self.last_movie is None or key > self.last_movie:
                self.last_movie = key

    def _rebuild(self) -> None:
        self._reset()
        for path, (size, mtime, movie) in self._known.items():
            self._count(path, size, mtime, movie)

    @property
    def files_total(self) -> int:
        return len(self._known)

    def as_raw(self) -> dict[str, Any]:
        info: dict[str, Any] = {"files": {k: dict(v) for k, v in self.per_ext.items()},
                                "files_total": self.files_total, "size": self.size,
                                "sizeH": human_size(self.size), "movies": self.movies}
        if self.first is None or self.last is None:
            return info
        info.update(first_file=self.first[1], last_file=self.last[1],
                    first_file_creation=self.first[0], last_file_creation=self.last[0],
                    duration="%.2f hours" % ((self.last[0] - self.first[0]) / 3600))
        if self.first_movie is not None and self.last_movie is not None:
            info.update(first_movie=self.first_movie[1], last_movie=self.last_movie[1],
                        first_movie_creation=self.first_movie[0],
                        last_movie_creation=self.last_movie[0])
        return info


def raw_info(files: Iterable[FileFacts]) -> dict[str, Any]:
    """The ``extra.raw`` figures of ``files`` (a full scan: ``monitor``)."""
    stats = SessionStats()
    for item in files:
        stats.add_file(item)
    return stats.as_raw()
