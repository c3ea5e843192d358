"""Incremental scan of a frames root: per-top-level-entry totals at about the cost of ``find``.

What is kept between scans is one small :class:`DirNode` per directory (its own mtime,
the totals of the files directly in it, and its subdirectories) -- never a record per
file. A scan stats every directory once; it lists a directory again (``scandir`` plus one
``lstat`` per file in it) only when

* the directory's own mtime changed: a file or folder was added, removed or renamed in
  it (this is what the original handler missed below the top level), or
* the directory is *hot*: it or its newest file changed within ``hot_window`` seconds.
  Growing a file does not touch its directory's mtime, so a movie still being written is
  caught this way; a folder that has been quiet for ``hot_window`` costs one ``stat``.
* it could not be read last time.

Cost model (what :class:`ScanStats` counts and the tests check): a scan makes one
``stat`` per directory, plus, for each directory it lists, one ``getdents`` pass and one
``fstatat`` per file in it -- the syscalls ``find -printf '%s'`` makes, and no more. The
directory stats and all the bookkeeping run in the calling thread; listings (where the
per-file work is) run on up to ``threads`` worker threads, several directories at once,
so one thread's ``fstatat`` waiting for an inode overlaps another's Python -- once the
scan has seen its listings wait on I/O (cold cache, network share); on a warm cache the
GIL hand-offs would cost more than the overlap gains, so it stays in the calling thread.
A rescan that lists nothing never starts a thread. Per file, the interpreter does one
``is_dir``, one ``stat`` call and a few additions; movies are counted once per directory
(:meth:`MovieRule.count`).

Symbolic links are never followed (a link loop cannot trap the scan) and are not counted;
a directory seen twice in one scan (bind-mount loop) is skipped. Entries that vanish
mid-scan are dropped; unreadable folders are reported in :attr:`ScanResult.problems`
(sorted, so that the order in which threads finish never reads as a change).

The first scan (no records yet) of a big tree is split over two processes: this one and a
scan child (split.py, scan_child.py) that walks every other folder of the first levels
with the same walk and rules and sends back its records, problems and counts; the result
is the one a one-process scan gives. Rescans list little and stay in this process.
"""

from __future__ import annotations

import os
import stat as stat_mod
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from .listing import ListFn, describe, list_directory, real_root
from .nodes import DirNode, Totals, iter_nodes, subtree_totals
from .split import ChildFailed, ChildScan, can_split, graft
from .walk import Job, ScanCancelled, StatFn, Walk, WalkRules

__all__ = ["DirNode", "Entry", "RootUnavailable", "ScanCancelled", "ScanResult", "ScanStats",
           "Totals", "TreeScanner", "list_directory"]

#: Worker threads for listings. Two cores here: three keeps both busy while one thread
#: waits on the disk; more only adds GIL hand-offs on a warm cache.
DEFAULT_THREADS = 3
#: A first scan is split only if the first levels give this many folders to deal out
#: (fewer: a small tree, where starting a child costs more than it saves).
SPLIT_AT = 16
#: Folders the split looks for, and the most it lists (in this thread, before any
#: listing thread may start) to find them: EPU's tree gives 300 after 6.
SPLIT_PIECES = 64
SPLIT_LOOKS = 16


class RootUnavailable(OSError):
    """The root itself cannot be listed: missing, not a directory, unreadable, unmounted."""


@dataclass(frozen=True)
class Entry:
    """One top-level entry of the root, as reported."""

    name: str
    type: str          # "dir" or "file"
    size: int
    ts: float          # newest file's mtime (a dir without files: its own mtime)
    movies: int = 0
    files: int = 0

    def as_event(self) -> dict[str, Any]:
        # ``movies`` on every entry, loose files too: EMhub's "sort by movies" needs it.
        data: dict[str, Any] = {"name": self.name, "type": self.type, "size": self.size,
                                "ts": self.ts, "movies": self.movies}
        if self.type == "dir":
            data["files"] = self.files
        return data


@dataclass
class ScanStats:
    """Work done by one scan: what the cost model promises is checked against these."""

    dirs_statted: int = 0
    dirs_listed: int = 0
    files_statted: int = 0


@dataclass
class ScanResult:
    entries: List[Entry]
    stats: ScanStats
    problems: List[str] = field(default_factory=list)
    processes: int = 1        # 2: a scan child walked part of the tree
    child_problem: str = ""   # why a started scan child's share was walked here instead


class TreeScanner:
    """Scans ``root`` again and again, reusing what it learnt (see the module doc)."""

    def __init__(self, root: str | os.PathLike[str], is_movie: Callable[[str], bool], *,
                 hot_window: float = 300.0, max_depth: int = 64, threads: int = DEFAULT_THREADS,
                 adaptive: bool = True, processes: int = 2, split_at: int = SPLIT_AT,
                 stop: Optional[threading.Event] = None, python: str = "",
                 clock: Callable[[], float] = time.time,
                 listdir: ListFn = list_directory, stat: StatFn = os.stat) -> None:
        self.root = os.fspath(root)
        self.is_movie = is_movie
        self.hot_window = hot_window
        self.max_depth = max_depth
        self.threads = max(0, threads)  # 0: list in the calling thread
        self.adaptive = adaptive          # threads only once listings wait on I/O
        self.processes = processes        # 2: split a first scan with a scan child
        self.split_at = split_at
        self.stop = stop                  # set: a split scan kills its child and stops
        self.python = python              # the child's interpreter (sys.executable)
        self.clock = clock
        self._listdir = listdir   # injectable: tests simulate EACCES even when run as root
        self._stat = stat         # (a scan child always uses the real ones)
        self._top: Dict[str, Optional[DirNode]] = {}

    def _rules(self) -> WalkRules:
        return WalkRules(self.is_movie, self.hot_window, self.max_depth, self.threads,
                         self.adaptive, self._listdir, self._stat)

    def scan(self, split: bool = True) -> ScanResult:
        """One pass over the tree. Raises :class:`RootUnavailable` if the root cannot be
        listed, :class:`ScanCancelled` if ``stop`` is set during a split scan."""
        walk = Walk(self._rules(), self.clock())
        try:
            root_stat = self._stat(self.root)
            if not stat_mod.S_ISDIR(root_stat.st_mode):
                raise RootUnavailable(f"frames root {self.root} is not a directory")
            root = real_root(self.root)  # the walk's paths then hold no link (listing.py)
            walk.visited.add((root_stat.st_dev, root_stat.st_ino))
            with self._listdir(root) as listing:
                # Entries are used while the listing is open: their stat() needs its fd.
                loose, top = self._scan_top(walk, listing, root)
        except RootUnavailable:
            raise
        except OSError as exc:
            raise RootUnavailable(f"frames root {self.root} cannot be listed: "
                                  f"{exc.strerror or exc}") from exc
        result = ScanResult(loose, ScanStats())
        first = not any(node is not None for node in top.values())
        try:
            if split and first and self.processes > 1 and can_split(walk.rules):
                if not self._split_walk(walk, top, result, root):
                    return self.scan(split=False)  # both saw one folder: see _split_walk
            else:
                walk.push_children(top, root, 1)
                walk.run(())
        finally:
            walk.close()
        self._top = top
        for name, node in top.items():
            if node is not None:
                totals = subtree_totals(node)
                result.entries.append(Entry(name, "dir", totals.size,
                                            totals.newest or node.mtime_ns / 1e9,
                                            totals.movies, totals.files))
        result.entries.sort(key=lambda e: e.name)
        result.stats = ScanStats(*walk.stats())
        walk.problems.sort()
        result.problems = walk.problems
        return result

    def _split_walk(self, walk: Walk, top: Dict[str, Optional[DirNode]],
                    result: ScanResult, root: str) -> bool:
        """Deal the first levels' folders out between this process and a scan child, walk
        ours, graft the child's records. False if a folder was entered by both (a bind
        mount seen twice): the scan is then made again in one process, which skips the
        second sighting as it always does."""
        jobs = walk.expand([Job(top, name, os.path.join(root, name), 1) for name in top],
                           SPLIT_PIECES, SPLIT_LOOKS)
        if len(jobs) < max(self.split_at, 2):
            walk.run(jobs)
            return True
        ours, theirs = jobs[1::2], jobs[0::2]  # the child gets the first: it starts late
        try:
            child: Optional[ChildScan] = ChildScan(root, theirs, walk.visited,
                                                   walk.rules, walk.now, self.python)
        except (OSError, ValueError) as exc:  # no child: all of it here
            child, result.child_problem = None, f"scan child not started: {exc}"
        walk.stop = self.stop
        try:
            walk.run(ours)
            if child is None:
                walk.run(theirs)
                return True
            try:
                answer = child.collect(self.stop)
            except ChildFailed as exc:
                result.child_problem = f"{exc}; its share scanned in this process"
                walk.run(theirs)
                return True
        finally:
            walk.stop = None
            if child is not None:
                child.kill()
        if answer.visited & walk.visited:
            return False
        graft(answer, theirs)
        walk.visited |= answer.visited
        walk.problems.extend(answer.problems)
        walk.dirs_statted += answer.stats[0]
        walk.dirs_listed += answer.stats[1]
        walk.files_statted += answer.stats[2]
        result.processes = 2
        return True

    def _scan_top(self, walk: Walk, listing: Iterable[Any], root: str
                  ) -> Tuple[List[Entry], Dict[str, Optional[DirNode]]]:
        # The root is listed every time: it is small, and its loose files are reported one
        # by one (the only files whose names are kept, and only for this scan).
        loose: List[Entry] = []
        top: Dict[str, Optional[DirNode]] = {}
        for item in listing:
            name = item.name
            try:
                if item.is_dir(follow_symlinks=False):
                    top[name] = self._top.get(name)
                elif item.is_file(follow_symlinks=False):
                    st = item.stat(follow_symlinks=False)
                    walk.files_statted += 1
                    loose.append(Entry(name, "file", st.st_size, st.st_mtime))
            except FileNotFoundError:
                continue  # vanished between listing and stat
            except OSError as exc:
                walk.problems.append(describe(os.path.join(root, name), exc))
        return loose, top

    def node_count(self) -> int:
        """Directories remembered (the scanner's memory is proportional to this)."""
        return sum(1 for _ in iter_nodes(self._top))
