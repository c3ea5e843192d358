"""A real single-node Slurm cluster (Debian's slurmctld + slurmd + munge, no accounting) on
127.0.0.1 for the ``cluster-slurm`` tests, started once per pytest session.

``slurm/start.sh`` (beside this module) installs the packages if missing and starts the
daemons under ``.test-run/slurm`` with their own ``SLURM_CONF``; ``stop.sh`` stops them at
session end. If Slurm cannot be started the tests skip loudly, or fail when ``CI=true``.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from .emhub_server import BASE, RUNS

SCRIPTS = Path(__file__).resolve().parent / "slurm"
HOME = RUNS / "slurm"
# The daemons' ports are fixed, so the lock is machine-wide, not per checkout.
LOCK = Path(tempfile.gettempdir()) / "emworker-slurm-harness.lock"
TEST_USERS = ("emw_alice", "emw_bob")  # created by start.sh (useradd, idempotent)


@dataclass
class SlurmCluster:
    home: Path
    conf: Path
    node: str = "localhost"
    partitions: tuple[str, ...] = ("cryo-cpu", "cryo-gpu", "debug")

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *argv: str) -> str:
        proc = subprocess.run(list(argv), env=self.env, capture_output=True, text=True,
                              timeout=30, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def submit(self, partition: str, user: str, workdir: Path = Path("/tmp"), *extra: str) -> str:
        """Submit ``sleep 300`` (1 CPU, little memory) as ``user``; return the job id."""
        out = self.run("sbatch", "--parsable", f"--uid={user}", "-p", partition, "-c", "1",
                       "--mem=100", f"--chdir={workdir}", "-o", "/dev/null", *extra,
                       "--wrap", "sleep 300")
        return out.strip().split(";")[0]

    def wait_state(self, jobid: str, state: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run("squeue", "-h", "-j", jobid, "-o", "%T").strip() == state:
                return
            time.sleep(0.2)
        raise AssertionError(f"job {jobid} did not reach {state} in {timeout:g} s")

    def cancel_all(self) -> None:
        for user in (*TEST_USERS, "root"):
            self.run("scancel", f"--user={user}")

    def resume(self) -> None:
        """Undo a drain; Slurm refuses ``resume`` on a node that is not drained, which is fine."""
        subprocess.run(["scontrol", "update", f"nodename={self.node}", "state=resume"],
                       env=self.env, capture_output=True, timeout=30, check=False)

    def set_node(self, state: str, reason: str = "") -> None:
        argv = ["scontrol", "update", f"nodename={self.node}", f"state={state}"]
        self.run(*argv, *([f"reason={reason}"] if reason else []))


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"real Slurm is required in CI: {message}")
    pytest.skip(f"REAL SLURM NOT AVAILABLE, real-Slurm tests skipped: {message}")


def _exclusive_use(timeout: float = 900.0) -> int:
    """Lock the cluster for this pytest session: concurrent sessions (another checkout's test
    run) wait here instead of restarting the daemons under each other."""
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                _unavailable("another test session holds the Slurm cluster")
            time.sleep(0.5)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    if os.geteuid() != 0:
        _unavailable("the harness installs packages and starts daemons as root")
    lock = _exclusive_use()
    proc = subprocess.run(["bash", str(SCRIPTS / "start.sh"), str(HOME)], capture_output=True,
                          text=True, timeout=600, check=False, cwd=BASE)
    if proc.returncode != 0:
        os.close(lock)
        _unavailable(f"start.sh exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
    cluster = SlurmCluster(HOME, HOME / "etc" / "slurm.conf")
    try:
        yield cluster
    finally:
        subprocess.run(["bash", str(SCRIPTS / "stop.sh"), str(HOME)], capture_output=True,
                       timeout=120, check=False)
        os.close(lock)  # releases the flock
