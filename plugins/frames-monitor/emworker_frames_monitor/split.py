"""The monitor's side of a split first scan: start one scan child, give it a share of the
folders, take back its records, or kill it.

The child is ``sys.executable -I -S -X utf8 -c BOOT``, not multiprocessing: ``spawn`` would
re-import the worker's ``__main__`` (the whole host) in the child and ``forkserver`` keeps a
server process alive between scans; this child imports only the stdlib and the modules it
runs (found from this package's own files, so it runs the same code as the monitor), reads
no ``PYTHON*`` variable and no ``.pth`` file (``-S``), gets an empty environment and ``/`` as its
working directory. It dies with the thread that started it (``PR_SET_PDEATHSIG``) and when
its stdin closes. Its answer is one JSON line, data only, checked before any of it is used:
if the child cannot start, dies, or answers anything else, :meth:`ChildScan.collect` says
so and the monitor walks that share itself, so nothing is lost or made up.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from typing import Dict, List, NamedTuple, Optional, Set, Tuple

import emhub_worker_core
from emhub_worker_core.guard import MovieRule

from . import __file__ as _package_init
from .nodes import BadRecord, DirNode, decode_node
from .walk import Job, ScanCancelled, WalkRules

BOOT = ("import sys; sys.path[:0] = sys.argv[2:]; "
        "from emworker_frames_monitor.scan_child import main; sys.exit(main(sys.argv[1]))")
#: Where the child imports from: the folders that hold this plugin's package and the core's
#: (site-packages itself for an installed plugin; ``-S`` still skips its ``.pth`` files).
IMPORT_DIRS = tuple(os.path.dirname(os.path.dirname(os.path.abspath(f)))
                    for f in (_package_init, emhub_worker_core.__file__))
_STDERR_KEPT = 4000


class ChildFailed(Exception):
    """The scan child did not give a usable answer (the reason, for the log)."""


class ChildAnswer(NamedTuple):
    nodes: List[Optional[DirNode]]    # one per job given, None: the folder is gone
    problems: List[str]
    stats: Tuple[int, int, int]       # dirs statted, dirs listed, files statted
    visited: Set[Tuple[int, int]]     # (dev, ino) of every folder the child entered


def can_split(rules: WalkRules) -> bool:
    """A child decodes names as UTF-8 with surrogateescape: split only if we do too (so
    both see the same names) and if there is a Python to start."""
    return bool(sys.executable) and sys.getfilesystemencoding() == "utf-8" \
        and sys.getfilesystemencodeerrors() == "surrogateescape" \
        and isinstance(rules.is_movie, MovieRule)  # a rule the child can be told


class ChildScan:
    """One running scan child and the jobs it was given."""

    def __init__(self, root: str, jobs: List[Job], visited: Set[Tuple[int, int]],
                 rules: WalkRules, now: float, python: str = "") -> None:
        self.jobs = jobs
        rule = rules.is_movie
        suffixes = list(rule.suffixes) if isinstance(rule, MovieRule) else []
        self._lock = threading.Lock()
        self._proc: Optional[subprocess.Popen[bytes]] = subprocess.Popen(
            [python or sys.executable, "-I", "-S", "-X", "utf8", "-c", BOOT, str(os.getpid()),
             *IMPORT_DIRS],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={}, cwd="/", close_fds=True)
        self.pid = self._proc.pid
        request = {"root": root, "now": now, "jobs": [[j.path, j.name, j.depth] for j in jobs],
                   "visited": sorted(visited), "suffixes": suffixes,
                   "hot_window": rules.hot_window, "max_depth": rules.max_depth,
                   "threads": rules.threads, "adaptive": rules.adaptive}
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(request).encode() + b"\n")
            self._proc.stdin.flush()  # stdin stays open: the child exits when it closes
        except OSError:
            pass  # the child is already gone: collect() tells

    def collect(self, stop: Optional[threading.Event] = None) -> ChildAnswer:
        """Wait for the answer (ScanCancelled if ``stop`` is set meanwhile: the child is
        killed); ChildFailed if there is no usable one."""
        proc = self._proc
        if proc is None or proc.stdout is None or proc.stderr is None:
            raise ChildFailed("scan child already killed")
        out: List[bytes] = []
        err: List[bytes] = []
        streams: Dict[int, List[bytes]] = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
        try:
            while streams:
                if stop is not None and stop.is_set():
                    self.kill()
                    raise ScanCancelled("scan stopped")
                ready, _, _ = select.select(list(streams), [], [], 0.1)
                for fd in ready:
                    data = os.read(fd, 1 << 20)
                    if data:
                        streams[fd].append(data)
                    else:
                        del streams[fd]
        except (OSError, ValueError) as exc:  # killed from another thread: fds closed
            self.kill()
            raise ChildFailed(f"scan child (pid {self.pid}) lost: {exc}") from None
        code = proc.wait()
        self.close()
        if code != 0:
            detail = b"".join(err).decode(errors="replace").strip()[-_STDERR_KEPT:]
            raise ChildFailed(f"scan child (pid {self.pid}) ended with code {code}"
                              + (f": {detail}" if detail else ""))
        return self._decode(b"".join(out))

    def _decode(self, raw: bytes) -> ChildAnswer:
        try:
            data = json.loads(raw)
            nodes = [decode_node(n) for n in data["nodes"]]
            problems, stats = data["problems"], tuple(data["stats"])
            visited = {(int(dev), int(ino)) for dev, ino in data["visited"]}
        except (ValueError, KeyError, TypeError, BadRecord) as exc:
            raise ChildFailed(f"scan child (pid {self.pid}) answered garbage: {exc}") from None
        if len(nodes) != len(self.jobs) or len(stats) != 3 \
                or not all(type(s) is int for s in stats) \
                or not all(isinstance(p, str) for p in problems):
            raise ChildFailed(f"scan child (pid {self.pid}) answered for other jobs")
        return ChildAnswer(nodes, problems, (stats[0], stats[1], stats[2]), visited)

    def kill(self) -> None:
        """Kill the child (any thread may call this) and reap it."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            if proc.returncode is None:
                proc.kill()
            proc.wait()
        self.close()

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        if proc.returncode is None:  # close() without collect(): never leave it running
            proc.kill()
            proc.wait()


def graft(answer: ChildAnswer, jobs: List[Job]) -> None:
    """Put the child's records where the monitor's own walk would have put them."""
    for job, node in zip(jobs, answer.nodes):
        if node is None:
            job.parent.pop(job.name, None)
        else:
            job.parent[job.name] = node
