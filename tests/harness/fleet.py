"""A fleet of ``emworker run`` processes against one harness EMhub, and how to watch it.

    server = EMhubServer.create(extra_workers=fleet_names(30)); server.start()
    with Fleet(server, fleet_names(30), folder, env) as fleet:
        fleet.wait_connected()
        ...                                  # SIGTERM to all, then SIGKILL, always

What is measured, and from where:

* :class:`AccessLog`: werkzeug's request lines in EMhub's log. A line is written when the
  answer is sent, with a one-second timestamp, so a long poll is counted when it returns.
* :class:`AttemptCounter`: while EMhub is down nothing logs, and a worker logs one warning
  per outage, not per attempt. So a listener takes EMhub's port, accepts each connection,
  notes the time and closes it. Every retry is a new TCP connection (the pooled ones died
  with the server); the worker sees a dropped connection instead of a refused one, which
  its client classifies the same way (a transport error, retried with backoff).
* :class:`Usage`: CPU time and resident memory of any process, from ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from emworker_testkit.emhub_server import EMhubServer
from emworker_testkit.emhub_worker import WorkerProcess

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def fleet_names(count: int) -> list[str]:
    """Worker names for a fleet; register them with ``EMhubServer.create(extra_workers=)``."""
    return [f"fleet-{i:03d}.test" for i in range(1, count + 1)]


# -- processes ----------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` (its threads included); None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except OSError:
        return None


def thread_count(pid: int) -> int | None:
    """Threads of ``pid``: EMhub's dev server holds one per open request (each long poll)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in status.splitlines()
                 if line.startswith("Threads:")), None)


def redis_clients(port: int) -> int | None:
    """Redis's ``connected_clients`` (a blocked XREADGROUP holds a connection of its own)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"INFO clients\r\n")
            reply = b""
            while b"connected_clients:" not in reply or not reply.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return None
    match = re.search(rb"connected_clients:(\d+)", reply)
    return int(match[1]) if match else None


@dataclass
class Usage:
    """CPU share (1.0 = one core busy) over a window, and peak RSS, of a few processes."""

    pids: Mapping[str, int]
    started: float = field(default_factory=time.monotonic)
    cpu_at_start: dict[str, float] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, pid in self.pids.items():
            self.cpu_at_start[name] = cpu_seconds(pid) or 0.0
        self.sample()

    def sample(self) -> None:
        for name, pid in self.pids.items():
            rss = rss_bytes(pid)
            if rss is not None:
                self.peak_rss[name] = max(rss, self.peak_rss.get(name, 0))

    def finish(self) -> Usage:
        self.sample()
        wall = max(time.monotonic() - self.started, 1e-9)
        for name, pid in self.pids.items():
            now = cpu_seconds(pid)
            if now is not None:
                self.cpu[name] = (now - self.cpu_at_start[name]) / wall
        return self


# -- EMhub's side -------------------------------------------------------------------------------
_REQUEST = re.compile(r'\[(\d\d/\w{3}/\d{4} \d\d:\d\d:\d\d)\] "(\w+) (\S+) HTTP/[^"]*" (\d{3})')


@dataclass(frozen=True)
class Request:
    at: int  # unix seconds (werkzeug logs local time to the second)
    method: str
    path: str
    status: int


#: What the harness itself calls (an admin creating tasks and reading them), never a worker:
#: left out of the fleet's request counts.
HARNESS_PATHS = ("/api/create_task", "/api/get_all_tasks", "/get_content")


class AccessLog:
    """Werkzeug's request lines in EMhub's log, counted by second (the harness's own calls
    left out, all but its few admin logins)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def requests(self, since: float, until: float) -> list[Request]:
        """Requests answered in ``[since, until)``, both rounded down to the second."""
        first, last = int(since), int(until)
        found = []
        text = self.path.read_text(errors="replace") if self.path.exists() else ""
        for match in _REQUEST.finditer(text):
            at = int(time.mktime(time.strptime(match[1], "%d/%b/%Y %H:%M:%S")))
            if first <= at < last and not match[3].startswith(HARNESS_PATHS):
                found.append(Request(at, match[2], match[3], int(match[4])))
        return found

    def per_second(self, since: float, seconds: int) -> list[int]:
        counts = [0] * seconds
        for request in self.requests(since, int(since) + seconds):
            counts[request.at - int(since)] += 1
        return counts


class AttemptCounter:
    """Holds EMhub's port while EMhub is down and counts the connections made to it.

    ``hang=True``: an EMhub that hangs instead: each connection is accepted and kept open,
    never answered, until the counter closes."""

    def __init__(self, port: int, hang: bool = False) -> None:
        self.port = port
        self.hang = hang
        self.attempts: list[float] = []
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> AttemptCounter:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 10
        while True:  # the killed server's socket may take a moment to go
            try:
                sock.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    sock.close()
                    raise
                time.sleep(0.05)
        sock.listen(256)
        sock.settimeout(0.1)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="attempt-counter", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            self.attempts.append(time.time())
            if self.hang:
                self._held.append(conn)
            else:
                conn.close()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for conn in self._held:
            conn.close()
        if self._sock is not None:
            self._sock.close()

    def per_second(self, since: float, seconds: int) -> list[int]:
        counts = [0] * seconds
        for at in self.attempts:
            second = int(at - since)
            if 0 <= second < seconds:
                counts[second] += 1
        return counts


@contextlib.contextmanager
def hanging(server: EMhubServer, how: str = "stopped") -> Iterator[AttemptCounter | None]:
    """EMhub hangs for the block, then answers again.

    ``stopped``: its process is stopped (SIGSTOP), so the kernel still accepts every
    connection and nobody answers, on the connections already open too: calls hang in
    flight. ``listener``: it is killed and a listener that accepts and never answers holds
    its port (yielded, with the connections it counted)."""
    if how == "stopped":
        pid = server.emhub_pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            yield None
        finally:
            os.kill(pid, signal.SIGCONT)
        return
    server.stop_emhub(kill=True)
    try:
        with AttemptCounter(server.port, hang=True) as counter:
            yield counter
    finally:
        server.start_emhub()


# -- the workers ----------------------------------------------------------------------------
class Fleet:
    """N ``emworker run`` subprocesses, each with its own name, config, state folder and log."""

    def __init__(self, server: EMhubServer, names: Sequence[str], folder: Path,
                 env: Mapping[str, str], *, worker_settings: Mapping[str, Any] | None = None,
                 emhub_settings: Mapping[str, Any] | None = None) -> None:
        self.server = server
        self.names = list(names)
        self.folder = folder
        self.env = dict(env)
        self.worker_settings = dict(worker_settings or {})
        self.emhub_settings = dict(emhub_settings or {})
        self.workers: dict[str, WorkerProcess] = {}

    def start(self) -> Fleet:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in self.names:
            config = self.server.worker_config(
                self.folder / f"{name}.toml", name, worker_settings=self.worker_settings,
                emhub_settings=self.emhub_settings)
            self.workers[name] = WorkerProcess(config, self.env,
                                               self.folder / f"{name}.log").start()
        return self

    def __enter__(self) -> Fleet:
        return self if self.workers else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_connected(self, timeout: float = 300.0) -> None:
        """Until every worker has connected (start-up of N processes on a busy machine)."""
        deadline = time.monotonic() + timeout
        for worker in self.workers.values():
            if not worker.running():
                raise AssertionError(f"worker {worker.log.stem} exited at start-up:\n"
                                     + worker.log_text()[-3000:])
            worker.wait_connected(max(1.0, deadline - time.monotonic()))

    def pids(self) -> dict[str, int]:
        return {name: w.pid for name, w in self.workers.items() if w.running()}

    def signal_all(self, signum: int = signal.SIGTERM) -> None:
        for worker in self.workers.values():
            worker.signal(signum)

    def wait_exits(self, timeout: float, since: float) -> dict[str, tuple[int | None, float]]:
        """Each worker's exit code and seconds from ``since`` to its exit (None: still up)."""
        exits: dict[str, tuple[int | None, float]] = {}
        deadline = time.monotonic() + timeout
        while len(exits) < len(self.workers) and time.monotonic() < deadline:
            for name, worker in self.workers.items():
                if name not in exits and worker.proc is not None \
                        and worker.proc.poll() is not None:
                    exits[name] = (worker.proc.returncode, time.monotonic() - since)
            time.sleep(0.05)
        for name in self.workers:
            exits.setdefault(name, (None, time.monotonic() - since))
        return exits

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM to every worker at once, then SIGKILL to any still running."""
        self.signal_all(signal.SIGTERM)
        self.wait_exits(timeout, time.monotonic())
        for worker in self.workers.values():
            if worker.running():
                assert worker.proc is not None
                with contextlib.suppress(OSError):
                    worker.proc.kill()
                worker.proc.wait(10)


def median_max(values: Iterable[float]) -> tuple[float, float]:
    ordered = sorted(values)
    if not ordered:
        return float("nan"), float("nan")
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return median, ordered[-1]


def percentile(values: Iterable[float], share: float) -> float:
    """Nearest-rank percentile (``share`` 0.95 for p95): a value that was really measured."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-int(share * 1000) * len(ordered) // 1000))  # ceil without floats
    return ordered[min(rank, len(ordered)) - 1]
