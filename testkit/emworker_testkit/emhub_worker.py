"""Run ``emworker run`` as a real subprocess against the test EMhub, and wait on outcomes.

    with WorkerProcess(config, env, log_path) as worker:
        ...                                   # SIGTERM and wait at the end, always
        wait_for(lambda: admin.task_status(w, tid) == "done", "task done")

Waits are liveness bounds (generous), never timing assertions.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, TypeVar

T = TypeVar("T")


def wait_for(check: Callable[[], T], what: str, timeout: float = 60.0,
             interval: float = 0.2, log: Path | None = None) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` (and the log)."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    tail = ""
    if log is not None and log.exists():
        tail = "\n--- worker log (tail) ---\n" + log.read_text(errors="replace")[-4000:]
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} "
                         f"(last value {last!r}){tail}")


class WorkerProcess:
    """``python -m emhub_worker_core --config CFG run`` with its log in a file."""

    def __init__(self, config: Path, env: Mapping[str, str], log: Path) -> None:
        self.config = config
        self.env = dict(env)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "emhub_worker_core", "--config", str(self.config),
                 "run"], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        return self

    def __enter__(self) -> WorkerProcess:
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum: int = signal.SIGTERM) -> None:
        if self.running():
            assert self.proc is not None
            self.proc.send_signal(signum)

    def wait(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker did not exit within {timeout:g} s\n"
                                 + self.log_text()[-4000:]) from None

    def sigterm_timed(self, timeout: float = 120.0) -> tuple[int, float]:
        """SIGTERM now; (exit code, seconds from the signal to the exit)."""
        sent = time.monotonic()
        self.signal(signal.SIGTERM)
        code = self.wait(timeout)
        return code, time.monotonic() - sent

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, wait; SIGKILL if it hangs. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_connected(self, timeout: float = 60.0) -> None:
        """Until the worker has logged in and called ``connect_worker``."""
        self.wait_log("connected to EMhub", timeout)

    def wait_log(self, text: str, timeout: float = 60.0) -> str:
        def found() -> str:
            log = self.log_text()
            return log if text in log else ""
        return wait_for(found, f"{text!r} in the worker log", timeout, log=self.log)
