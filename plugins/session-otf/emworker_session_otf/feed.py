"""The live feed: the list of settled movies the workflow reads while it grows.

``movies.txt`` in the OTF folder holds one absolute movie path per line, in the order the
movies settled, and is only ever extended; it is rewritten whole through a temporary file
and a rename, so a reader sees the old list or the new one, never half a line. When the
session has been quiet for the configured time a last line ``#END`` says no more will come.
Lines starting with ``#`` are markers, never movies (movie paths are absolute).

Cost: one directory walk of the raw folder per step, one ``stat`` per file; the list is
rewritten only when it changed.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

FEED_NAME = "movies.txt"
END_MARKER = "#END"
#: A control character anywhere in a path could break or forge a feed line (``\n``, ``\r``);
#: such a path is refused, and named in an error event.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class _Sighting:
    size: int
    mtime_ns: int
    since: float


class SettledMovies:
    """Movies in the raw folder that stayed unchanged for ``quiet`` seconds of our clock."""

    def __init__(self, raw: Path, is_movie: Callable[[str], bool], quiet: float,
                 clock: Callable[[], float]) -> None:
        self.raw, self.is_movie, self.quiet, self.clock = raw, is_movie, quiet, clock
        self._seen: dict[str, _Sighting] = {}
        self.settled: dict[str, float] = {}  # path -> when we saw it settle
        self.last_change = clock()
        #: what the last scan could not feed, in words (unreadable folders, refused names)
        self.problems: list[str] = []

    def _refused(self, path: str, why: str) -> None:
        self.problems.append(f"{path!r}: {why}")

    def scan(self) -> list[str]:
        """Absolute paths that settled since the last scan, oldest sighting first."""
        now = self.clock()
        new: list[tuple[float, str]] = []
        present: set[str] = set()
        self.problems = []
        for folder, dirs, names in os.walk(
                self.raw, onerror=lambda exc: self._refused(str(exc.filename),
                                                            f"not read ({exc.strerror})")):
            dirs.sort()
            for bad in [d for d in dirs if _CONTROL.search(d)]:
                dirs.remove(bad)
                self._refused(os.path.join(folder, bad), "control character in the name")
            for name in sorted(names):
                path = os.path.join(folder, name)
                if name.startswith(".") or path in self.settled:
                    continue
                if not self.is_movie(os.path.relpath(path, self.raw)):
                    continue
                if _CONTROL.search(path):
                    self._refused(path, "control character in the name")
                    continue
                try:
                    st = os.lstat(path)
                except OSError as exc:
                    self._refused(path, f"not read ({exc.strerror})")
                    continue
                if not stat.S_ISREG(st.st_mode):
                    self._refused(path, "not a regular file (a link is not a movie)")
                    continue
                present.add(path)
                old = self._seen.get(path)
                if old is None or (old.size, old.mtime_ns) != (st.st_size, st.st_mtime_ns):
                    self._seen[path] = _Sighting(st.st_size, st.st_mtime_ns, now)
                    self.last_change = now
                elif now - old.since >= self.quiet:
                    new.append((old.since, path))
        for path in [p for p in self._seen if p not in present]:
            del self._seen[path]
        for _since, path in sorted(new):
            del self._seen[path]
            self.settled[path] = now
        return [path for _since, path in sorted(new)]

    def mark_known(self, paths: list[str]) -> None:
        """Movies already in the feed (after a restart): never fed twice."""
        for path in paths:
            self.settled.setdefault(path, self.clock())

    @property
    def pending(self) -> int:
        return len(self._seen)


class MovieFeed:
    """``<otf>/movies.txt``: append-only by content, replaced atomically."""

    def __init__(self, otf_path: Path) -> None:
        self.path = otf_path / FEED_NAME
        self.movies: list[str] = []
        self.ended = False

    def load(self) -> list[str]:
        """What a previous run wrote (movies, and whether it was ended)."""
        try:
            # "\n" only: a "\r" (refused in names anyway) never splits a line
            lines = self.path.read_text(encoding="utf-8").split("\n")
        except FileNotFoundError:
            lines = []
        self.movies = [line for line in lines if line and not line.startswith("#")]
        self.ended = END_MARKER in lines
        return self.movies

    def extend(self, movies: list[str]) -> None:
        """Add lines; on a failed write (a full disk) the feed is as it was."""
        if movies:
            self.write([*self.movies, *movies], self.ended)
            self.movies.extend(movies)

    def end(self) -> None:
        if not self.ended:
            self.write(self.movies, True)
            self.ended = True

    def write(self, movies: list[str] | None = None, ended: bool | None = None) -> None:
        movies = self.movies if movies is None else movies
        ended = self.ended if ended is None else ended
        lines = [*movies, *([END_MARKER] if ended else [])]
        fd, tmp = tempfile.mkstemp(prefix=".movies-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write("".join(f"{line}\n" for line in lines))
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
