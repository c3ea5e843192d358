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
"""

from __future__ import annotations

import os
import queue
import stat as stat_mod
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Set,
    Tuple,
)

from .listing import ListFn, Listing, describe, list_directory, read_directory

__all__ = ["DirNode", "Entry", "RootUnavailable", "ScanResult", "ScanStats", "Totals",
           "TreeScanner", "list_directory"]

StatFn = Callable[..., os.stat_result]
#: Worker threads for listings. Two cores here: three keeps both busy while one thread
#: waits on the disk; more only adds GIL hand-offs on a warm cache.
DEFAULT_THREADS = 3
#: Seconds of listing a scan measures in its own thread before it may switch to threads,
#: and the off-CPU share of that time that makes it switch (see _Walk._threads_pay_off).
IO_WAIT_SAMPLE = 0.05
IO_WAIT_SHARE = 0.3


class RootUnavailable(OSError):
    """The root itself cannot be listed: missing, not a directory, unreadable, unmounted."""


class Totals(NamedTuple):
    """Aggregate of a set of files: count, movies, bytes and newest mtime (0.0 if none)."""

    files: int = 0
    movies: int = 0
    size: int = 0
    newest: float = 0.0


class DirNode:
    """What is remembered about one directory between scans (no per-file data)."""

    __slots__ = ("mtime_ns", "own", "children", "readable")

    def __init__(self, mtime_ns: int, own: Totals, children: Optional[Dict[str, Optional[DirNode]]],
                 readable: bool = True) -> None:
        self.mtime_ns = mtime_ns   # the directory's own st_mtime_ns when it was listed
        self.own = own             # files directly in it
        self.children = children   # subdirectory name -> node (None: not visited yet)
        self.readable = readable

    def is_hot(self, now: float, window: float) -> bool:
        """Changed recently (itself or a file in it): its files may still be growing."""
        return max(self.mtime_ns / 1e9, self.own.newest) >= now - window


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


class TreeScanner:
    """Scans ``root`` again and again, reusing what it learnt (see the module doc)."""

    def __init__(self, root: str | os.PathLike[str], is_movie: Callable[[str], bool], *,
                 hot_window: float = 300.0, max_depth: int = 64, threads: int = DEFAULT_THREADS,
                 adaptive: bool = True,
                 clock: Callable[[], float] = time.time,
                 listdir: ListFn = list_directory, stat: StatFn = os.stat) -> None:
        self.root = os.fspath(root)
        self.is_movie = is_movie
        self.hot_window = hot_window
        self.max_depth = max_depth
        self.threads = max(0, threads)  # 0: list in the calling thread
        self.adaptive = adaptive          # threads only once listings wait on I/O
        self.clock = clock
        self._listdir = listdir   # injectable: tests simulate EACCES even when run as root
        self._stat = stat
        self._top: Dict[str, Optional[DirNode]] = {}

    def scan(self) -> ScanResult:
        """One pass over the tree. Raises :class:`RootUnavailable` if the root cannot be listed."""
        walk = _Walk(self, self.clock())
        try:
            root_stat = self._stat(self.root)
            if not stat_mod.S_ISDIR(root_stat.st_mode):
                raise RootUnavailable(f"frames root {self.root} is not a directory")
            walk.visited.add((root_stat.st_dev, root_stat.st_ino))
            with self._listdir(self.root) as listing:
                # Entries are used while the listing is open: their stat() needs its fd.
                loose, top = self._scan_top(walk, listing)
        except RootUnavailable:
            raise
        except OSError as exc:
            raise RootUnavailable(f"frames root {self.root} cannot be listed: "
                                  f"{exc.strerror or exc}") from exc
        try:
            walk.run(top)
        finally:
            walk.close()
        self._top = top
        entries = loose
        for name, node in top.items():
            if node is not None:
                totals = _subtree_totals(node)
                entries.append(Entry(name, "dir", totals.size,
                                     totals.newest or node.mtime_ns / 1e9, totals.movies,
                                     totals.files))
        entries.sort(key=lambda e: e.name)
        walk.problems.sort()
        return ScanResult(entries, walk.stats, walk.problems)

    def _scan_top(self, walk: _Walk, listing: Iterable[Any]
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
                    walk.stats.files_statted += 1
                    loose.append(Entry(name, "file", st.st_size, st.st_mtime))
            except FileNotFoundError:
                continue  # vanished between listing and stat
            except OSError as exc:
                walk.problems.append(describe(os.path.join(self.root, name), exc))
        return loose, top

    def node_count(self) -> int:
        """Directories remembered (the scanner's memory is proportional to this)."""
        return sum(1 for _ in _iter_nodes(self._top))


class _Job(NamedTuple):
    """A directory to bring up to date, and where its node goes."""

    parent: Dict[str, Optional[DirNode]]
    name: str
    path: str
    depth: int


class _Walk:
    """State of one scan below the root: the calling thread stats and decides, the pool
    lists; only the calling thread touches the node tree."""

    def __init__(self, scanner: TreeScanner, now: float) -> None:
        self.s = scanner
        self.now = now
        self.stats = ScanStats()
        self.problems: List[str] = []
        self.visited: Set[Tuple[int, int]] = set()
        self._todo: List[_Job] = []
        self._pool: Optional[ThreadPoolExecutor] = None
        self._results: queue.SimpleQueue[Tuple[_Job, int, Future[Listing]]] = \
            queue.SimpleQueue()
        self._outstanding = 0
        self._serial_wall = 0.0  # listings done in this thread so far: elapsed ...
        self._serial_cpu = 0.0   # ... and on-CPU time

    def run(self, top: Dict[str, Optional[DirNode]]) -> None:
        self._push_children(top, self.s.root, 1)
        while self._todo or self._outstanding:
            while self._todo:
                self._visit(self._todo.pop())
            if self._outstanding:
                job, mtime_ns, future = self._results.get()
                self._outstanding -= 1
                self._listed(job, mtime_ns, future.result())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _push_children(self, children: Dict[str, Optional[DirNode]], path: str,
                       depth: int) -> None:
        self._todo.extend(_Job(children, name, os.path.join(path, name), depth)
                          for name in children)

    def _visit(self, job: _Job) -> None:
        """Stat one directory; list it (in the pool) or keep what is known of it."""
        parent, name, path, depth = job
        try:
            st = self.s._stat(path, follow_symlinks=False)
        except FileNotFoundError:
            del parent[name]
            return
        except OSError as exc:
            self.problems.append(describe(path, exc))
            del parent[name]
            return
        self.stats.dirs_statted += 1
        if not stat_mod.S_ISDIR(st.st_mode):  # replaced by a file or link since listed
            del parent[name]
            return
        key = (st.st_dev, st.st_ino)
        if key in self.visited:
            self.problems.append(describe(path, "directory already scanned (loop), skipped"))
            del parent[name]
            return
        self.visited.add(key)
        if depth > self.s.max_depth:
            self.problems.append(describe(path, f"deeper than {self.s.max_depth} levels, "
                                                "not scanned"))
            parent[name] = DirNode(st.st_mtime_ns, Totals(), None)
            return
        node = parent[name]
        if (node is None or node.mtime_ns != st.st_mtime_ns or not node.readable
                or node.is_hot(self.now, self.s.hot_window)):
            self._submit(job, st.st_mtime_ns, (node.children or {}) if node else {})
        elif node.children:
            self._push_children(node.children, path, depth + 1)

    def _submit(self, job: _Job, mtime_ns: int, old_children: Dict[str, Optional[DirNode]]
                ) -> None:
        if self._pool is None and not self._threads_pay_off():
            wall, cpu = time.perf_counter(), time.thread_time()
            found = read_directory(self.s._listdir, job.path, old_children)
            self._serial_wall += time.perf_counter() - wall
            self._serial_cpu += time.thread_time() - cpu
            self._listed(job, mtime_ns, found)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.s.threads, thread_name_prefix="frames-scan")
        future = self._pool.submit(read_directory, self.s._listdir, job.path, old_children)
        future.add_done_callback(lambda f: self._results.put((job, mtime_ns, f)))
        self._outstanding += 1

    def _threads_pay_off(self) -> bool:
        """Threads overlap a thread's wait for the kernel with another's Python; on a warm
        cache there is no wait to overlap and each ``fstatat`` hands the GIL over, which
        costs more than it gains. So a scan lists in this thread until its listings have
        spent ``IO_WAIT_SAMPLE`` seconds, and switches to the pool for good if they were
        off-CPU (waiting on the disk or the network) more than ``IO_WAIT_SHARE`` of it."""
        if self.s.threads == 0:
            return False
        if not self.s.adaptive:
            return True
        return (self._serial_wall >= IO_WAIT_SAMPLE
                and self._serial_cpu < (1 - IO_WAIT_SHARE) * self._serial_wall)

    def _listed(self, job: _Job, mtime_ns: int, found: Listing) -> None:
        self.problems.extend(found.problems)
        self.stats.files_statted += len(found.file_names)
        if found.readable:
            self.stats.dirs_listed += 1
        own = Totals(len(found.file_names), self._count_movies(found.file_names), found.size,
                     found.newest)
        node = DirNode(mtime_ns, own, found.subdirs or None, readable=found.readable)
        job.parent[job.name] = node
        if found.subdirs:
            self._push_children(found.subdirs, job.path, job.depth + 1)

    def _count_movies(self, names: List[str]) -> int:
        count = getattr(self.s.is_movie, "count", None)  # a MovieRule counts in one pass
        if callable(count):
            return int(count(names))
        return sum(1 for name in names if self.s.is_movie(name))


def _subtree_totals(node: DirNode) -> Totals:
    files, movies, size, newest = node.own
    if node.children:
        for child in node.children.values():
            if child is None:
                continue
            sub = _subtree_totals(child)
            files += sub.files
            movies += sub.movies
            size += sub.size
            if sub.newest > newest:
                newest = sub.newest
    return Totals(files, movies, size, newest)


def _iter_nodes(children: Dict[str, Optional[DirNode]]) -> Iterator[DirNode]:
    for node in children.values():
        if node is not None:
            yield node
            if node.children:
                yield from _iter_nodes(node.children)
