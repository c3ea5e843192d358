"""Outages, stop and fatal errors on the real EMhub 1.0.2 + Redis (issue 10, "Outages and stop").

Each test runs ``emworker run`` as a subprocess. The 5 s and 2 s bounds are the issue's
own targets, not performance measurements: before this work the median recovery was
9 s (max 43 s) and SIGTERM during an outage waited out a 120 s retry window.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from emworker_testkit.emhub_admin import AdminClient
from emworker_testkit.emhub_server import EMhubServer
from emworker_testkit.emhub_worker import WorkerProcess, wait_for

# Stops and starts only this worker's own EMhub, with echo and frames tasks: under xdist it may run
# beside the kit's real-servers group (emworker_testkit.plugin).
pytestmark = [pytest.mark.emhub, pytest.mark.server_group("emhub-outages")]

#: Seconds the server stays down: past the 1 + 2 + 3 s it takes the probe's backoff to reach
#: its 3 s cap (PROBE_RETRY_CAP), so recovery is measured from the steady state. Issue 10's
#: 20 s outages measured the same thing and took two minutes of the suite.
OUTAGE = 8.0
RECOVERY_BOUND = 5.0  # from the server answering to the first event of a new task
STOP_BOUND = 2.0  # SIGTERM during an outage to exit


def start_worker(server: EMhubServer, env: dict[str, str], tmp_path: Path, name: str,
                 extra_toml: str = "", **settings: Any) -> WorkerProcess:
    config = server.worker_config(tmp_path / f"{name}.toml", name, extra_toml, **settings)
    return WorkerProcess(config, env, tmp_path / f"{name}.log").start()


def first_event_after(admin: AdminClient, worker: str, started: float,
                      log: Path, timeout: float = 60) -> float:
    """Create an echo task now; seconds from ``started`` to its first stored event.

    Returns once the task is done: an outage begun while its ``done`` is in flight would
    see a call succeed after the kill and count as two outages."""
    task = admin.create_task(worker, "echo", {"repeat": 1, "interval": 0.1})
    wait_for(lambda: admin.task_history(task), f"first event of {task}", timeout=timeout,
             interval=0.05, log=log)
    elapsed = time.monotonic() - started
    wait_for(lambda: admin.task_status(worker, task) == "done", f"{task} done", log=log)
    return elapsed


RECOVERED = re.compile(r"EMhub answers again after ([\d.]+) s and (\d+) failed call")


# Three EMhub outages in a row (recovery must not degrade from one to the next); Redis's
# outage, a different failure (EMhub answers, with errors), once.
@pytest.mark.parametrize(("what", "rounds"), [("emhub", 3), ("redis", 1)])
def test_new_task_runs_within_5_s_of_each_recovery(
        what: str, rounds: int, emhub_server: EMhubServer, worker_env: dict[str, str],
        tmp_path: Path) -> None:
    # One name per case: a stopped worker's last long poll, still held by EMhub for up to
    # 60 s, would swallow the next task of its name (only the pending re-check finds it).
    worker = "spare-2.test" if what == "emhub" else "bench.test"
    with start_worker(emhub_server, worker_env, tmp_path, worker) as w, \
            emhub_server.admin() as admin:
        w.wait_connected()
        # Warm-up, not a measurement; generous in case an earlier run's poll swallows it.
        first_event_after(admin, worker, time.monotonic(), w.log, timeout=150)
        for round_ in range(1, rounds + 1):
            if what == "emhub":
                emhub_server.stop_emhub(kill=True)
            else:
                emhub_server.stop_redis(kill=True)
            wait_for(lambda: w.log_text().count("EMhub call failed") >= round_,  # noqa: B023
                     f"outage {round_} noticed", log=w.log)
            time.sleep(OUTAGE)  # the outage itself, not a wait for a result
            if what == "emhub":
                emhub_server.start_emhub()  # returns once EMhub answers a login
            else:
                emhub_server.start_redis()  # returns once Redis answers PING
            back = time.monotonic()
            with emhub_server.admin() as fresh:  # the old admin session died with EMhub
                elapsed = first_event_after(fresh, worker, back, w.log)
            assert elapsed <= RECOVERY_BOUND, f"round {round_}: first event after {elapsed:.1f} s"
        log = w.log_text()
    # One line per outage while down (8 s: no minute summary is due), one on recovery.
    assert log.count("EMhub call failed") == rounds, log[-3000:]
    recoveries = RECOVERED.findall(log)
    assert len(recoveries) == rounds, log[-3000:]
    for seconds, calls in recoveries:  # the poller alone runs while no task does
        assert int(calls) <= float(seconds) + 1, f"{calls} calls in {seconds} s: over 1/s"


def test_sigterm_during_an_outage_exits_0_within_2_s_and_tasks_stay_pending(
        emhub_server: EMhubServer, worker_env: dict[str, str], tmp_path: Path) -> None:
    worker = "core-5.test"
    with emhub_server.admin() as admin:
        w = start_worker(emhub_server, worker_env, tmp_path, worker)
        try:
            tasks = [admin.create_task(worker, "echo", {"message": f"long{i}", "repeat": 10_000,
                                                        "interval": 0.2}) for i in range(2)]
            wait_for(lambda: all(len(admin.task_history(t)) >= 2 for t in tasks),
                     "tasks running", log=w.log)
            emhub_server.stop_emhub(kill=True)
            try:
                w.wait_log("EMhub call failed")
                time.sleep(3)  # handlers are now inside their retries of update_task
                sent = time.monotonic()
                w.signal(signal.SIGTERM)
                code = w.wait(timeout=60)
                took = time.monotonic() - sent
            finally:
                emhub_server.start_emhub()
            assert code == 0, w.log_text()[-3000:]
            assert took <= STOP_BOUND, f"exit took {took:.1f} s"
        finally:
            w.stop()
    with emhub_server.admin() as admin:
        for task in tasks:
            assert admin.task_status(worker, task) == "pending"
        for task in tasks:  # clean up: they resume and are deleted from the queue
            admin.delete_task(worker, task)


def test_authentication_revoked_mid_run_still_stops_every_task(
        emhub_server: EMhubServer, worker_env: dict[str, str], tmp_path: Path) -> None:
    worker = "spare-3.test"
    with emhub_server.admin() as admin:
        w = start_worker(emhub_server, worker_env, tmp_path, worker)
        tasks = [admin.create_task(worker, "echo", {"message": f"t{i}", "repeat": 10_000,
                                                    "interval": 0.2}) for i in range(3)]
        wait_for(lambda: all(len(admin.task_history(t)) >= 2 for t in tasks),
                 "tasks running", log=w.log)
    try:
        emhub_server.set_registered(worker, False)  # as if removed from config:hosts
        try:
            assert w.wait(timeout=120) == 4  # authentication: the documented exit code
        finally:
            w.stop()
    finally:
        emhub_server.set_registered(worker, True)
    log = w.log_text()
    assert "Unregistered host" in log
    for task in tasks:
        # The supervisor logs "ended" only after run_task returned, and run_task calls
        # teardown in its finally: this line is logged once teardown ran.
        assert re.search(rf"task {task} \(echo\) ended: ", log), log[-3000:]
    with emhub_server.admin() as admin:
        for task in tasks:
            admin.delete_task(worker, task)


def test_frames_task_interrupted_by_sigterm_keeps_entries_and_usage(
        emhub_server: EMhubServer, tmp_path: Path) -> None:
    worker = "frames.test"
    session = emhub_server.frames_root / "S00302_grid1"  # shared root: removed at the end
    data = session / "Images-Disc1" / "GridSquare_1" / "Data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "FoilHole_1_Data_1_2_20240302_102001_fractions.tiff").write_bytes(b"\0" * 512)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMHUB_")}
    try:
        with emhub_server.admin() as admin:
            w = start_worker(emhub_server, env, tmp_path, worker,
                             "[plugins.frames-monitor]\nmin_period = 0\nperiod = 0.5\n")
            try:
                task = admin.create_task(worker, "frames", {})
                wait_for(lambda: any("entries" in e for e in admin.task_history(task)),
                         "first frames listing", log=w.log)
                w.signal(signal.SIGTERM)
                assert w.wait() == 0
            finally:
                w.stop()
            last = admin.task_history(task)[-1]
            admin.delete_task(worker, task)
    finally:
        shutil.rmtree(session, ignore_errors=True)
    assert last["interrupted"] == "1"
    # What EMhub's Worker Frames page and Create Session dialog parse from the last event:
    entries = json.loads(last["entries"])
    usage = json.loads(last["usage"])
    assert any(e["name"] == "S00302_grid1" for e in entries)
    assert usage["total"] > 0 and last["maxlen"] == "2"
