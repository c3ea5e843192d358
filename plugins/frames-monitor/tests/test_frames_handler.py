"""The handler through the core's test kit, and end to end through `emworker run --local`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from emworker_frames_monitor.handler import FramesMonitorHandler

from emhub_worker_core.testing import FakeEMhub, run_handler


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        self.now += 30  # every call is one period later
        return self.now


def movie(root: Path, rel: str, size: int = 1000) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)


def decode(event: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    for key, value in event.items():  # what EMhub can store: str, int, float only
        assert isinstance(value, (str, int, float)) and not isinstance(value, bool), key
    assert event["maxlen"] == 2
    return json.loads(str(event["entries"])), json.loads(str(event["usage"]))


def test_first_snapshot_even_for_empty_root_then_quiet(tmp_path: Path) -> None:
    run = run_handler(FramesMonitorHandler, {"name": "frames", "args": {"root": str(tmp_path)}},
                      iterations=3, config={"heartbeat": 3600})
    assert len(run.events) == 1
    entries, usage = decode(run.last)
    assert entries == [] and usage["total"] > 0 and 0 <= usage["used"] <= usage["total"]
    assert run.last["reason"] == "first" and run.last["root"] == str(tmp_path)


def test_change_and_heartbeat(tmp_path: Path) -> None:
    movie(tmp_path, "S1/Images-Disc1/GridSquare_1/Data/FoilHole_1_fractions.tiff")

    class Growing(FramesMonitorHandler):
        def process(self) -> None:
            if self.count == 3:  # a new movie deep down between scans 2 and 3
                movie(tmp_path, "S1/Images-Disc1/GridSquare_1/Data/FoilHole_2_EER.eer")
            super().process()

    run = run_handler(Growing, {"name": "frames-monitor", "args": {"root": str(tmp_path),
                                                                    "heartbeat": 100}},
                      iterations=8, clock=Clock())
    reasons = [e["reason"] for e in run.events]
    assert reasons == ["first", "change", "heartbeat"]  # heartbeat: 4 periods after change
    entries, _ = decode(run.events[1])
    assert entries[0]["name"] == "S1" and entries[0]["movies"] == 2 and entries[0]["files"] == 2


def test_missing_root_error_then_recovery(tmp_path: Path) -> None:
    root = tmp_path / "frames"

    class Mounting(FramesMonitorHandler):
        def process(self) -> None:
            if self.count == 4:
                movie(root, "S1/x_fractions.tiff")
            super().process()

    run = run_handler(Mounting, {"name": "frames", "args": {"root": str(root)}}, iterations=5,
                      config={"heartbeat": 3600})
    assert not run.done
    assert [e["reason"] for e in run.events] == ["first", "recovered"]
    assert "No such file or directory" in str(run.events[0]["error"])
    assert run.events[0]["maxlen"] == 2
    entries, _ = decode(run.events[1])
    assert entries[0]["movies"] == 1


def test_unmounted_root_is_an_error(tmp_path: Path) -> None:
    run = run_handler(FramesMonitorHandler, {"name": "frames", "args": {"root": str(tmp_path)}},
                      config={"expect_mount": True})
    assert "is not mounted" in str(run.last["error"])


def test_root_from_emhub_sessions_config(tmp_path: Path) -> None:
    services = FakeEMhub(configs={"sessions": {"raw": {"root_frames": str(tmp_path)}}})
    run = run_handler(FramesMonitorHandler, {"name": "frames"}, services=services)
    assert run.last["root"] == str(tmp_path)
    assert ("get_config", "sessions") in services.calls


def test_root_precedence_and_confinement(tmp_path: Path) -> None:
    allowed, other = tmp_path / "allowed", tmp_path / "other"
    allowed.mkdir()
    other.mkdir()
    config = {"root": str(allowed), "allowed_roots": [str(allowed)]}
    run = run_handler(FramesMonitorHandler, {"name": "frames"}, config=config)
    assert run.last["root"] == str(allowed)
    refused = run_handler(FramesMonitorHandler, {"name": "frames",
                                                 "args": {"root": str(other / "..")}},
                          config=config)
    assert refused.done and "outside the allowed roots" in str(refused.last["error"])
    escape = run_handler(FramesMonitorHandler,
                         {"name": "frames", "args": {"root": str(allowed / ".." / "other")}},
                         config=config)
    assert "outside the allowed roots" in str(escape.last["error"])


@pytest.mark.parametrize("args,message", [
    ({"root": "relative/path"}, "absolute path"),
    ({"root": "/x", "period": "soon"}, "number of seconds"),
    ({"root": "/x", "period": 0}, "positive"),
])
def test_bad_args_end_the_task_with_a_clear_error(args: dict[str, Any], message: str) -> None:
    run = run_handler(FramesMonitorHandler, {"name": "frames", "args": args})
    assert run.done and message in str(run.last["error"])


def test_no_root_anywhere() -> None:
    run = run_handler(FramesMonitorHandler, {"name": "frames"}, services=FakeEMhub())
    assert run.done and "raw.root_frames" in str(run.last["error"])


def test_period_floor_from_config() -> None:
    run = run_handler(FramesMonitorHandler, {"name": "frames", "args": {"root": "/",
                                                                        "period": 0.01}},
                      iterations=0)
    assert run.handler.interval == 5.0


def test_local_run_end_to_end(tmp_path: Path) -> None:
    root = tmp_path / "frames"
    movie(root, "S00301_grid1/Images-Disc1/GridSquare_1/Data/FoilHole_1_fractions.tiff", 4096)
    movie(root, "README_frames.txt", 10)
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(f'[[tasks]]\nname = "frames"\nargs = {{ period = 0.1 }}\n\n'
                     f'[emhub.config.sessions]\nraw = {{ root_frames = "{root}" }}\n')
    config = tmp_path / "config.toml"
    config.write_text(f'[worker]\nstate_dir = "{tmp_path / "state"}"\n\n'
                      '[plugins.frames-monitor]\nmin_period = 0\n')
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "EMHUB_SERVER_URL": ""}
    proc = subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config", str(config),
                           "run", "--local", str(tasks), "--iterations", "3", "--events",
                           str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["task"] for r in records] == ["frames"]  # one snapshot, nothing changed after
    entries, usage = decode(records[0]["event"])
    assert {e["name"]: e["type"] for e in entries} == {"README_frames.txt": "file",
                                                       "S00301_grid1": "dir"}
    session = [e for e in entries if e["type"] == "dir"][0]
    assert (session["movies"], session["files"], session["size"]) == (1, 1, 4096)
    assert session["ts"] == pytest.approx(time.time(), abs=300)
