"""One scan below the root: the calling thread stats and decides, a pool (when listings
wait on I/O) lists; only the calling thread touches the node tree. The same walk runs in
the monitor's process and, for a share of a first scan, in a scan child (scan_child.py)."""

from __future__ import annotations

import os
import queue
import stat as stat_mod
import threading
import time
from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from .listing import ListFn, Listing, describe, read_directory
from .nodes import DirNode, Totals

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

StatFn = Callable[..., os.stat_result]
#: Seconds of listing a scan measures in its own thread before it may switch to threads,
#: and the off-CPU share of that time that makes it switch (see Walk._threads_pay_off).
IO_WAIT_SAMPLE = 0.05
IO_WAIT_SHARE = 0.3


class ScanCancelled(Exception):
    """The scan was stopped (the task is stopping) before it finished."""


class WalkRules(NamedTuple):
    """How a walk decides and reads (the scanner's settings, the same in a scan child)."""

    is_movie: Callable[[str], bool]
    hot_window: float
    max_depth: int
    threads: int     # 0: list in the calling thread
    adaptive: bool   # threads only once listings wait on I/O
    listdir: ListFn
    stat: StatFn


class Job(NamedTuple):
    """A directory to bring up to date, and where its node goes."""

    parent: Dict[str, Optional[DirNode]]
    name: str
    path: str
    depth: int


class WalkStats(NamedTuple):
    dirs_statted: int
    dirs_listed: int
    files_statted: int


class Walk:
    """State of one scan below the root (see the module doc of scanner.py)."""

    def __init__(self, rules: WalkRules, now: float,
                 stop: Optional[threading.Event] = None) -> None:
        self.rules = rules
        self.now = now
        self.stop = stop   # checked before each folder (only a split first scan sets it)
        self.dirs_statted = self.dirs_listed = self.files_statted = 0
        self.problems: List[str] = []
        self.visited: Set[Tuple[int, int]] = set()
        self._todo: List[Job] = []
        self._serial_only = False
        self._pool: Optional[ThreadPoolExecutor] = None
        self._results: queue.SimpleQueue[Tuple[Job, int, Future[Listing]]] = \
            queue.SimpleQueue()
        self._outstanding = 0
        self._serial_wall = 0.0  # listings done in this thread so far: elapsed ...
        self._serial_cpu = 0.0   # ... and on-CPU time

    def stats(self) -> WalkStats:
        return WalkStats(self.dirs_statted, self.dirs_listed, self.files_statted)

    def run(self, jobs: Iterable[Job]) -> None:
        """Bring every job's folder, and all below it, up to date."""
        self._todo.extend(jobs)
        while self._todo or self._outstanding:
            while self._todo:
                if self.stop is not None and self.stop.is_set():
                    raise ScanCancelled("scan stopped")
                self._visit(self._todo.pop())
            if self._outstanding:
                job, mtime_ns, future = self._results.get()
                self._outstanding -= 1
                self._listed(job, mtime_ns, future.result())

    def expand(self, jobs: Iterable[Job], pieces: int, most: int) -> List[Job]:
        """Visit folders level by level, in this thread, until ``pieces`` are left to visit
        (or none, or ``most`` folders were visited): the pieces a split scan deals out."""
        frontier = list(jobs)
        self._serial_only = True
        try:
            visited = 0
            while frontier and len(frontier) < pieces and visited < most:
                self._visit(frontier.pop(0))
                visited += 1
                frontier.extend(self._todo)
                self._todo.clear()
        finally:
            self._serial_only = False
        return frontier

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def push_children(self, children: Dict[str, Optional[DirNode]], path: str,
                      depth: int) -> None:
        self._todo.extend(Job(children, name, os.path.join(path, name), depth)
                          for name in children)

    def _visit(self, job: Job) -> None:
        """Stat one directory; list it (in the pool) or keep what is known of it."""
        parent, name, path, depth = job
        try:
            st = self.rules.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            del parent[name]
            return
        except OSError as exc:
            self.problems.append(describe(path, exc))
            del parent[name]
            return
        self.dirs_statted += 1
        if not stat_mod.S_ISDIR(st.st_mode):  # replaced by a file or link since listed
            del parent[name]
            return
        key = (st.st_dev, st.st_ino)
        if key in self.visited:
            self.problems.append(describe(path, "directory already scanned (loop), skipped"))
            del parent[name]
            return
        self.visited.add(key)
        if depth > self.rules.max_depth:
            self.problems.append(describe(path, f"deeper than {self.rules.max_depth} levels, "
                                                "not scanned"))
            parent[name] = DirNode(st.st_mtime_ns, Totals(), None)
            return
        node = parent[name]
        if (node is None or node.mtime_ns != st.st_mtime_ns or not node.readable
                or node.is_hot(self.now, self.rules.hot_window)):
            self._submit(job, st.st_mtime_ns, (node.children or {}) if node else {})
        elif node.children:
            self.push_children(node.children, path, depth + 1)

    def _submit(self, job: Job, mtime_ns: int, old_children: Dict[str, Optional[DirNode]]
                ) -> None:
        listdir = self.rules.listdir
        if self._pool is None and (self._serial_only or not self._threads_pay_off()):
            wall, cpu = time.perf_counter(), time.thread_time()
            found = read_directory(listdir, job.path, old_children)
            self._serial_wall += time.perf_counter() - wall
            self._serial_cpu += time.thread_time() - cpu
            self._listed(job, mtime_ns, found)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor  # only once it pays off

            self._pool = ThreadPoolExecutor(self.rules.threads, thread_name_prefix="frames-scan")
        future = self._pool.submit(read_directory, listdir, job.path, old_children)
        future.add_done_callback(lambda f: self._results.put((job, mtime_ns, f)))
        self._outstanding += 1

    def _threads_pay_off(self) -> bool:
        """Threads overlap a thread's wait for the kernel with another's Python; on a warm
        cache there is no wait to overlap and each ``fstatat`` hands the GIL over, which
        costs more than it gains. So a scan lists in this thread until its listings have
        spent ``IO_WAIT_SAMPLE`` seconds, and switches to the pool for good if they were
        off-CPU (waiting on the disk or the network) more than ``IO_WAIT_SHARE`` of it."""
        if self.rules.threads == 0:
            return False
        if not self.rules.adaptive:
            return True
        return (self._serial_wall >= IO_WAIT_SAMPLE
                and self._serial_cpu < (1 - IO_WAIT_SHARE) * self._serial_wall)

    def _listed(self, job: Job, mtime_ns: int, found: Listing) -> None:
        self.problems.extend(found.problems)
        self.files_statted += len(found.file_names)
        if found.readable:
            self.dirs_listed += 1
        own = Totals(len(found.file_names), self._count_movies(found.file_names), found.size,
                     found.newest)
        node = DirNode(mtime_ns, own, found.subdirs or None, readable=found.readable)
        job.parent[job.name] = node
        if found.subdirs:
            self.push_children(found.subdirs, job.path, job.depth + 1)

    def _count_movies(self, names: List[str]) -> int:
        count = getattr(self.rules.is_movie, "count", None)  # a MovieRule counts in one pass
        if callable(count):
            return int(count(names))
        return sum(1 for name in names if self.rules.is_movie(name))
