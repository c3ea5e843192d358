"""One worker name, one process (issue 21): the state folder's run lock, its exit code,
and ``emworker status`` asking the lock. The second ``emworker run`` is refused on the
real EMhub 1.0.2 (before it logs in), and the live worker's state file stays its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emhub_worker_core.cli.status_cmd import CRITICAL, OK, judge
from emhub_worker_core.ops import exit_codes
from emhub_worker_core.ops.run_lock import AlreadyRunning, hold_run_lock, lock_state
from tests.harness.emhub_server import EMhubServer
from tests.harness.emhub_worker import WorkerProcess, wait_for

DEAD_PID = 2 ** 22 + 12345  # above the kernel's pid_max default: never a live process


def test_a_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    first = hold_run_lock(tmp_path, "krios1")
    try:
        assert lock_state(tmp_path) == ("held", os.getpid())
        with pytest.raises(AlreadyRunning, match=rf"krios1 is already running \(process "
                                                 rf"{os.getpid()} holds"):
            hold_run_lock(tmp_path, "krios1")
        assert exit_codes.exit_code_for(AlreadyRunning("x")) == exit_codes.ALREADY_RUNNING == 11
    finally:
        first.close()
    assert lock_state(tmp_path) == ("free", os.getpid())
    hold_run_lock(tmp_path, "krios1").close()  # free again once the holder is gone


def test_status_asks_the_lock_not_the_process_id(tmp_path: Path) -> None:
    state = {"pid": DEAD_PID, "ready": time.time(), "last_poll": time.time(), "tasks": []}
    assert judge(state, 180, lock=("held", os.getpid()))[0] == OK  # live, whatever the file
    assert judge(state, 180, lock=("free", DEAD_PID))[0] == CRITICAL
    reused = {**state, "pid": os.getpid()}  # a live pid that is not the worker any more
    code, verdict = judge(reused, 180, lock=("free", os.getpid()))
    assert code == CRITICAL and "no longer holds its lock" in verdict
    assert judge(reused, 180)[0] == OK  # no lock file (an older worker): the pid decides


@pytest.mark.emhub
def test_a_second_run_with_the_same_name_is_refused_and_overwrites_nothing(
        emhub_server: EMhubServer, worker_env: dict[str, str], tmp_path: Path) -> None:
    worker = "lock.test"
    config = emhub_server.worker_config(tmp_path / "lock.toml", worker)
    state_file = tmp_path / f"state-{worker}" / "state.json"
    # the case: started by hand next to the service, with a wrong password
    wrong = emhub_server.worker_config(tmp_path / "wrong.toml", worker,
                                       emhub_settings={"password": "wrong"})
    with WorkerProcess(config, worker_env, tmp_path / "lock.log") as first:
        first.wait_connected()
        wait_for(lambda: state_file.exists(), "the first worker's state file", log=first.log)
        for second in (config, wrong):
            result = subprocess.run(
                [sys.executable, "-m", "emhub_worker_core", "--config", str(second), "run"],
                env=worker_env, capture_output=True, text=True, timeout=60)
            assert result.returncode == exit_codes.ALREADY_RUNNING, result.stderr
            assert f"worker {worker} is already running (process {first.pid}" in result.stderr
            assert "connected to EMhub" not in result.stderr  # refused before any request
            assert json.loads(state_file.read_text())["pid"] == first.pid
        status = subprocess.run(
            [sys.executable, "-m", "emhub_worker_core", "--config", str(config), "status",
             "--json"], env=worker_env, capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        assert json.loads(status.stdout)["state"]["pid"] == first.pid
        assert first.running()
