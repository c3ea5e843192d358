"""The live feed: the list of settled movies the workflow reads while it grows.

``movies.txt`` in the OTF folder holds one absolute movie path per line, in the order the
movies settled, and is only ever extended; it is rewritten whole through a unique temporary
file and a rename (:func:`~emhub_worker_core.guard.atomic_write`), so a reader sees the old
list or the new one, never half a line, and a link planted under its name is replaced, not
written through. When the session has been quiet for the configured time a last line
``#END`` says no more will come. Lines starting with ``#`` are markers, never movies (movie
paths are absolute); lines are split at ``\\n`` only, and no movie path holds a control
character.

Cost: one directory walk of the raw folder per step (by descriptors, no link followed), the
``lstat`` the listing gives per file; the list is rewritten only when it changed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from emhub_worker_core.guard import (
    SettleTracker,
    Skipped,
    atomic_write,
    has_control,
    open_dir,
    read_bounded,
    walk_files,
)

FEED_NAME = "movies.txt"
END_MARKER = "#END"
FEED_MAX_BYTES = 256 << 20  # a million movie paths; more is not a feed we wrote
_WHY = {"link": "a link (never a movie)", "special": "not a regular file",
        "too deep": "too deep", "error": "not read"}


class SettledMovies:
    """Movies in the raw folder that stayed unchanged for ``quiet`` seconds of our clock."""

    def __init__(self, raw: Path, is_movie: Callable[[str], bool], quiet: float,
                 clock: Callable[[], float], *, raw_root: Path | None = None) -> None:
        # walked from its root (the admin's) without following links; by default from its
        # parent, which is then trusted as given
        self.raw, self.raw_root = raw, raw_root or raw.parent
        self.is_movie, self.clock = is_movie, clock
        self._tracker = SettleTracker(quiet)
        self.settled: dict[str, float] = {}  # path -> when we saw it settle
        self.last_change = clock()
        #: what the last scan could not feed, in words (unreadable folders, links, names)
        self.problems: list[str] = []

    def _skipped(self, skip: Skipped) -> None:
        if skip.kind == "link" and not self.is_movie(skip.rel):
            return  # a link that is not named like a movie is no one's business
        why = _WHY.get(skip.kind, skip.kind)
        if skip.error is not None:
            why += f" ({skip.error.strerror})"
        self.problems.append(f"{os.path.join(self.raw, skip.rel)!r}: {why}")

    def scan(self) -> list[str]:
        """Absolute paths that settled since the last scan, oldest sighting first."""
        now = self.clock()
        self.problems = []
        try:
            fd = open_dir(self.raw, root=self.raw_root)
        except OSError as exc:
            self.problems.append(f"{str(self.raw)!r}: not read ({exc.strerror})")
            return []
        new: list[tuple[float, str]] = []
        present: list[str] = []
        try:
            for rel, st in walk_files(fd, self._skipped):
                path = os.path.join(self.raw, rel)
                if has_control(rel):  # named, when it would be a movie but for that
                    if self.is_movie("".join(c for c in rel if not has_control(c))):
                        self.problems.append(f"{path!r}: control character in the name")
                    continue
                if path in self.settled or not self.is_movie(rel):
                    continue
                present.append(path)
                since = self._tracker.since(path)
                if self._tracker.observe(path, st.st_size, st.st_mtime_ns, now):
                    new.append((since if since is not None else now, path))
        finally:
            os.close(fd)
        self._tracker.keep_only(present)
        if self._tracker.last_change is not None:
            self.last_change = max(self.last_change, self._tracker.last_change)
        for _since, path in sorted(new):
            self._tracker.forget(path)
            self.settled[path] = now
        return [path for _since, path in sorted(new)]

    def mark_known(self, paths: list[str]) -> None:
        """Movies already in the feed (after a restart): never fed twice."""
        for path in paths:
            self.settled.setdefault(path, self.clock())

    @property
    def pending(self) -> int:
        return self._tracker.pending


class MovieFeed:
    """``<otf>/movies.txt``: append-only by content, replaced atomically."""

    def __init__(self, otf_path: Path, otf_root: Path) -> None:
        self.folder, self.root = otf_path, otf_root
        self.path = otf_path / FEED_NAME
        self.movies: list[str] = []
        self.ended = False

    def _dir(self) -> int:
        return open_dir(self.folder, root=self.root)

    def exists(self) -> bool:
        fd = self._dir()
        try:
            os.stat(FEED_NAME, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        finally:
            os.close(fd)
        return True

    def load(self) -> list[str]:
        """What a previous run wrote (movies, and whether it was ended). A feed replaced by
        a link or a special file is not read (OSError ELOOP / :class:`NotRegular`)."""
        fd = self._dir()
        try:
            data = read_bounded(fd, FEED_NAME, FEED_MAX_BYTES)
        except FileNotFoundError:
            data = b""
        finally:
            os.close(fd)
        lines = data.decode("utf-8", errors="replace").split("\n")
        self.movies = [line for line in lines if line and not line.startswith("#")
                       and not has_control(line)]
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
        fd = self._dir()
        try:
            atomic_write(fd, FEED_NAME, "".join(f"{line}\n" for line in lines).encode())
        finally:
            os.close(fd)


__all__ = ["END_MARKER", "FEED_NAME", "MovieFeed", "SettledMovies"]
