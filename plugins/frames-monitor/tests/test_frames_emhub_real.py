"""frames-monitor against the real EMhub: root from EMhub's sessions config, events in history."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from emworker_testkit.emhub_server import EMhubServer
from emworker_testkit.emhub_worker import WorkerProcess, wait_for

pytestmark = pytest.mark.emhub
WORKER = "frames.test"


def test_frames_task_reports_the_sessions_config_root(emhub_server: EMhubServer,
                                                      tmp_path: Path) -> None:
    root = emhub_server.frames_root
    data = root / "S00301_grid1" / "Images-Disc1" / "GridSquare_1" / "Data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "FoilHole_1_Data_1_2_20240301_102001_fractions.tiff").write_bytes(b"\0" * 2048)
    config = emhub_server.worker_config(
        tmp_path / "frames.toml", WORKER,
        "[plugins.frames-monitor]\nmin_period = 0\nperiod = 0.5\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMHUB_")}
    with emhub_server.admin() as admin, \
            WorkerProcess(config, env, tmp_path / "worker.log").start() as worker:
        task = admin.create_task(WORKER, "frames", {})
        first = wait_for(lambda: admin.task_history(task), "first frames event", log=worker.log)
        # A second movie, deep in the tree: the next event must count it.
        (data / "FoilHole_2_Data_1_2_20240301_102002_fractions.tiff").write_bytes(b"\0" * 1024)

        def two_movies() -> list[dict[str, str]]:
            history = admin.task_history(task)
            return [e for e in history if e.get("entries") and
                    json.loads(e["entries"])[0]["movies"] == 2]

        changed = wait_for(two_movies, "event with the new movie", log=worker.log)
        assert admin.task_status(WORKER, task) == "pending"  # a monitor never finishes
    event = first[0]
    assert event["root"] == str(root) and event["reason"] == "first"
    entries = json.loads(event["entries"])
    assert entries == [{"name": "S00301_grid1", "type": "dir", "size": 2048,
                        "ts": entries[0]["ts"], "movies": 1, "files": 1}]
    usage = json.loads(event["usage"])
    assert usage["total"] > 0 and usage["used"] > 0
    session = json.loads(changed[-1]["entries"])[0]
    assert (session["movies"], session["files"], session["size"]) == (2, 2, 3072)
    assert changed[-1]["reason"] == "change"


#: The core gives up on one event after max(call_retry_window, 2 x retry_max_delay)
#: (120 s by default); set short here so the outage outlasts it in seconds, not minutes.
RETRY_WINDOW = 6.0


def test_change_during_an_outage_longer_than_the_retry_window_is_sent_after_it(
        emhub_server: EMhubServer, tmp_path: Path) -> None:
    session = emhub_server.frames_root / "S00401_outage"
    data = session / "Images-Disc1" / "GridSquare_1" / "Data"
    data.mkdir(parents=True, exist_ok=True)
    try:
        _outage_then_resent(emhub_server, tmp_path, data)
    finally:
        shutil.rmtree(session, ignore_errors=True)  # other tests read the same root


def _outage_then_resent(emhub_server: EMhubServer, tmp_path: Path, data: Path) -> None:
    (data / "FoilHole_1_Data_1_2_20240301_102001_fractions.tiff").write_bytes(b"\0" * 100)
    config = emhub_server.worker_config(
        tmp_path / "frames.toml", WORKER,
        # usage_step = 1: the shared disk's usage drifting must not pass for the change.
        "[plugins.frames-monitor]\nmin_period = 0\nperiod = 0.5\nheartbeat = 3600\n"
        "usage_step = 1.0\n",
        emhub_settings={"retry_max_delay": 2, "call_retry_window": RETRY_WINDOW})
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMHUB_")}

    def movies_in(event: dict[str, str]) -> int:
        found = [e for e in json.loads(event.get("entries", "[]"))
                 if e["name"] == "S00401_outage"]
        return int(found[0]["movies"]) if found else 0

    with WorkerProcess(config, env, tmp_path / "worker.log").start() as worker:
        with emhub_server.admin() as admin:
            task = admin.create_task(WORKER, "frames", {})
            wait_for(lambda: [e for e in admin.task_history(task) if movies_in(e) == 1],
                     "first frames event", log=worker.log)
        emhub_server.stop_emhub(kill=True)
        try:
            # The change happens while EMhub is down; the scan that sees it tries to send
            # it for the whole retry window and gives up. Stay down past that window.
            (data / "FoilHole_2_Data_1_2_20240301_102002_fractions.tiff").write_bytes(b"\0")
            time.sleep(RETRY_WINDOW + 6)
            assert worker.running()
            assert "gave up" in worker.log_text(), worker.log_text()[-3000:]
        finally:
            emhub_server.start_emhub()
        with emhub_server.admin() as admin:
            # Nothing else changes now, and the heartbeat is an hour away: only a scan that
            # still knows EMhub never took the change sends it.
            resent = wait_for(lambda: [e for e in admin.task_history(task)
                                       if movies_in(e) == 2],
                              "the change made during the outage", timeout=60,
                              log=worker.log)
            assert admin.task_status(WORKER, task) == "pending"
    assert resent[0]["reason"] == "change"
