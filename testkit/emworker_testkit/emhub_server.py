"""A real EMhub 1.0.2 server and a real Redis on 127.0.0.1, for tests and benchmarks.

Each pytest session gets its own run folder ``.test-run/emhub-<pid>/`` under :data:`BASE`
(instance, Redis data, logs of both servers, the install log) and its own free ports, so
several suites can run at once. The EMhub virtual environment ``.venv-emhub`` is shared
and built once (``emhub/install.sh``). Servers are stopped at session end, also on
failure; servers left over by a killed run are stopped by the next one.

By hand: ``python -m emworker_testkit`` starts one and prints its address.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Any, Iterator, Mapping, Sequence

import pytest
import requests

from emhub_worker_core.ops.state_file import pid_alive

from .emhub_admin import AdminClient
from .instance import SET_HOST, toml_pairs, with_hosts

HERE = Path(__file__).resolve().parent / "emhub"
#: Where the run folders and the shared EMhub venv live: ``$EMWORKER_TESTKIT_DIR``, else the
#: folder pytest started in (the repository for the core's suite, a plugin's own folder
#: when its tests run alone).
BASE = Path(os.environ.get("EMWORKER_TESTKIT_DIR") or Path.cwd()).resolve()
RUNS = BASE / ".test-run"
SECRET_KEY = "emworker-test-harness-secret"  # signs EMhub's cookies and worker tokens
KEEP_OLD_RUNS = 3
#: Registered in the session server for tests/test_fleet_real.py (EMhub reads
#: ``config:hosts`` at start), so that test needs no second server of its own.
FLEET_WORKERS = tuple(f"fleet-{i:03d}.test" for i in range(1, 6))


class HarnessUnavailable(RuntimeError):
    """EMhub or Redis could not be installed or started here."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_old_runs() -> None:
    """Stop servers of runs whose pytest is gone; keep the newest few folders for diagnosis."""
    runs = sorted(RUNS.glob("emhub-*"), key=lambda p: p.stat().st_mtime)
    dead = []
    for run in runs:
        owner = run / "owner.pid"
        if owner.exists() and pid_alive(int(owner.read_text() or 0)):
            continue
        dead.append(run)
        for pidfile in (run / "pids").glob("*.pid"):
            pid = int(pidfile.read_text() or 0)
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"redis-server" in cmdline or b"flask" in cmdline:
                    os.kill(pid, signal.SIGKILL)
            pidfile.unlink()
    for run in dead[:-KEEP_OLD_RUNS] if len(dead) > KEEP_OLD_RUNS else []:
        shutil.rmtree(run, ignore_errors=True)


class EMhubServer:
    """EMhub + Redis for one test session (docs/testing-kit.rst says how tests use it)."""

    user = "admin"
    password = "admin"

    def __init__(self, run_dir: Path, venv: Path | None = None,
                 extra_workers: Sequence[str] = ()) -> None:
        self.run_dir = run_dir
        self.extra_workers = tuple(extra_workers)  # registered next to instance_data's
        self.venv = venv or BASE / ".venv-emhub"
        self.instance = run_dir / "instance"
        self.logs = run_dir / "logs"
        self.frames_root = run_dir / "frames"
        self.raw_root = run_dir / "raw"
        self.redis_port = free_port()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret_key = SECRET_KEY
        self.workers: list[str] = []
        self.transfer_session: dict[str, Any] = {}
        self.session_ids: list[int] = []
        self._redis: subprocess.Popen[bytes] | None = None
        self._emhub: subprocess.Popen[bytes] | None = None

    # -- set-up ---------------------------------------------------------------------------
    @classmethod
    def create(cls, extra_workers: Sequence[str] = (), tag: str = "") -> EMhubServer:
        """A server in a fresh run folder; ``extra_workers`` go into ``config:hosts`` too
        (EMhub reads that list once, at start, so names cannot be added later); ``tag``
        names the folder when one process runs more than one server."""
        RUNS.mkdir(exist_ok=True)
        clean_old_runs()
        run_dir = RUNS / (f"emhub-{os.getpid()}" + (f"-{tag}" if tag else ""))
        shutil.rmtree(run_dir, ignore_errors=True)
        (run_dir / "pids").mkdir(parents=True)
        (run_dir / "owner.pid").write_text(str(os.getpid()))
        return cls(run_dir, extra_workers=extra_workers)

    def _run(self, argv: list[str], log_name: str, **kwargs: Any) -> str:
        self.logs.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
        (self.logs / log_name).write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout)[-1500:]
            raise HarnessUnavailable(f"{' '.join(map(str, argv[:3]))} failed "
                                     f"(exit {result.returncode}); see {self.logs / log_name}"
                                     f":\n{tail}")
        return str(result.stdout)

    def install(self) -> None:
        """Redis (apt) and the EMhub venv, once for all runs (a lock keeps parallel runs apart)."""
        with open(RUNS / ".emhub-install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._run(["bash", str(HERE / "install.sh"), str(self.venv)], "install.log",
                      timeout=900)

    def instance_data(self) -> str:
        """The instance data (JSON text) loaded into EMhub; a subclass may add to it."""
        data = (HERE / "instance_data.json").read_text()
        data = data.replace("@FRAMES_ROOT@", str(self.frames_root)) \
                   .replace("@RAW_ROOT@", str(self.raw_root))
        return with_hosts(data, self.extra_workers) if self.extra_workers else data

    def create_instance(self) -> None:
        """Instance data of our own, worker names registered before the server starts."""
        self.frames_root.mkdir(parents=True, exist_ok=True)
        self.raw_root.mkdir(parents=True, exist_ok=True)
        data_file = self.run_dir / "instance_data.json"
        data_file.write_text(self.instance_data())
        self._run([str(self.venv / "bin" / "emh-data"), "--create_instance", str(self.instance),
                   str(data_file), "-f"], "instance.log", timeout=120)
        (self.instance / "config.py").write_text(f"SECRET_KEY = {self.secret_key!r}\n")
        facts = json.loads(self._run([str(self.venv / "bin" / "python"),
                                      str(HERE / "finish_instance.py"), str(self.instance)],
                                     "finish_instance.log", timeout=60))
        self.workers = facts["workers"]
        self.transfer_session = facts["transfer_session"]
        self.session_ids = facts["sessions"]
        # EMhub only reads `bind` and `port` here; the rest is for redis-server. The
        # append-only file makes Redis durable even when a test kills it with SIGKILL.
        (self.instance / "redis.conf").write_text(
            f"bind 127.0.0.1\nport {self.redis_port}\ndaemonize no\n"
            f"dir {self.instance}\ndbfilename dump.rdb\nsave 900 1\n"
            f"appendonly yes\nappendfsync always\nlogfile \"\"\n")

    def start(self) -> None:
        self.install()
        self.create_instance()
        self.start_redis()
        self.start_emhub()
        atexit.register(self.stop)
        self.preconnect_workers()

    def preconnect_workers(self) -> None:
        """``connect_worker`` every test worker once, as if each had run before.

        EMhub creates a worker's consumer group at the stream's *end* on the first
        connect, so a task created before a worker's very first connect is never
        delivered. In a facility every worker has connected long ago; tests may then
        create tasks before starting their worker, as happens after a worker restart."""
        with self.admin() as admin:
            for worker in self.workers:
                admin.call("connect_worker", {"attrs": {
                    "worker": worker, "specs": {"harness": "registered, not yet run"}}},
                    "token")

    # -- processes ----------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None
               ) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        log: IO[bytes] = open(self.logs / f"{name}.log", "ab")
        with log:
            proc = subprocess.Popen(argv, cwd=self.instance, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)  # a ^C reaches pytest, not them
        (self.run_dir / "pids" / f"{name}.pid").write_text(str(proc.pid))
        return proc

    def _wait_until(self, name: str, proc: subprocess.Popen[bytes], ready: Any,
                    timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise HarnessUnavailable(f"{name} exited with {proc.returncode}; log:\n"
                                         + self.log_tail(name))
            if ready():
                return
            time.sleep(0.05)
        raise HarnessUnavailable(f"{name} not ready after {timeout}s; log:\n"
                                 + self.log_tail(name))

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def _stop(self, name: str, proc: subprocess.Popen[bytes] | None, kill: bool) -> None:
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        with contextlib.suppress(FileNotFoundError):
            (self.run_dir / "pids" / f"{name}.pid").unlink()

    def _redis_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _emhub_ready(self) -> bool:
        try:
            reply = requests.post(f"{self.url}/api/login", timeout=2,
                                  json={"username": self.user, "password": self.password})
            return reply.status_code == 200 and reply.json() == "OK"
        except (requests.RequestException, ValueError):
            return False

    def start_redis(self) -> None:
        redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
        self._redis = self._spawn("redis", [redis_server, str(self.instance / "redis.conf")])
        self._wait_until("redis", self._redis, self._redis_ready, timeout=20)

    def stop_redis(self, kill: bool = False) -> None:
        self._stop("redis", self._redis, kill)

    def start_emhub(self) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("FLASK_", "EMHUB_", "PYTHON"))}
        env.update(EMHUB_INSTANCE=str(self.instance), FLASK_APP="emhub")
        self._emhub = self._spawn("emhub", [
            str(self.venv / "bin" / "flask"), "run", "--host", "127.0.0.1",
            "--port", str(self.port), "--with-threads", "--no-reload"], env)
        self._wait_until("emhub", self._emhub, self._emhub_ready, timeout=60)

    @property
    def emhub_pid(self) -> int | None:
        """The flask process (its own pid: no shell, no reloader), while it runs."""
        return self._emhub.pid if self._emhub and self._emhub.poll() is None else None

    @property
    def redis_pid(self) -> int | None:
        return self._redis.pid if self._redis and self._redis.poll() is None else None

    @property
    def access_log(self) -> Path:
        """EMhub's output, werkzeug's request lines included (appended to across restarts)."""
        return self.logs / "emhub.log"

    def stop_emhub(self, kill: bool = False) -> None:
        self._stop("emhub", self._emhub, kill)

    def restart_emhub(self, kill: bool = False) -> None:
        self.stop_emhub(kill)
        self.start_emhub()

    def stop(self) -> None:
        self.stop_emhub()
        self.stop_redis()

    def set_registered(self, worker: str, registered: bool) -> None:
        """Add ``worker`` to, or remove it from, ``config:hosts``, and restart EMhub.

        EMhub reads the host list once per process (from Redis' cached copy if there is
        one), so the form is changed with EMhub stopped, the cached copy dropped, and
        EMhub started again: its next answer to that worker is "Unregistered host"."""
        self.stop_emhub()
        try:
            self._run([str(self.venv / "bin" / "python"), "-c", SET_HOST, str(self.instance),
                       worker, "1" if registered else "0"], "set_registered.log", timeout=60)
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=5) as sock:
                sock.sendall(b"DEL config:hosts\r\n")
                sock.recv(64)
        finally:
            self.start_emhub()

    # -- for tests ----------------------------------------------------------------------------
    def admin(self) -> AdminClient:
        return AdminClient(self.url, self.user, self.password, self.secret_key)

    def worker_config(self, path: Path, worker: str, extra_toml: str = "", *,
                      worker_settings: Mapping[str, Any] | None = None,
                      emhub_settings: Mapping[str, Any] | None = None,
                      password_file: bool = False) -> Path:
        """A config file for ``emworker run --config path`` that points at this server.

        ``worker_settings``/``emhub_settings`` add keys to ``[worker]``/``[emhub]``;
        ``password_file`` stores the password in a file next to the config instead."""
        emhub: dict[str, Any] = {"url": self.url, "user": self.user}
        if password_file:
            secret = path.with_suffix(".password")
            secret.write_text(self.password + "\n")
            secret.chmod(0o600)
            emhub["password_file"] = str(secret)
        else:
            emhub["password"] = self.password
        emhub.update(emhub_settings or {})
        # min_interval 0: tests run handlers faster than a facility should; the floor
        # has tests of its own (tests/test_min_interval*.py), which set it explicitly.
        settings = {"name": worker, "state_dir": str(path.parent / f"state-{worker}"),
                    "min_interval": 0, **(worker_settings or {})}
        lines = ["[worker]", *toml_pairs(settings), "", "[emhub]", *toml_pairs(emhub), ""]
        path.write_text("\n".join(lines) + "\n" + extra_toml)
        return path



def unavailable(reason: str) -> None:
    """Skip loudly; in CI (``CI=true``) a missing server is a failure, not a skip."""
    message = f"REAL EMHUB UNAVAILABLE, test not run: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


_failure: list[str] = []


@pytest.fixture(scope="session")
def emhub_server() -> Iterator[EMhubServer]:
    """EMhub 1.0.2 + Redis on free ports of 127.0.0.1, for the whole test session."""
    if _failure:  # do not retry a failed start for every test
        unavailable(_failure[0])
    server = EMhubServer.create(extra_workers=FLEET_WORKERS)
    try:
        server.start()
    except (HarnessUnavailable, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        _failure.append(str(exc))
        unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()
