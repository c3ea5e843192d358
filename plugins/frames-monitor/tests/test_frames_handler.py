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

from emhub_worker_core import EncodedEvent, TransportError
from emhub_worker_core.testing import FakeEMhub, make_context, run_handler, run_task


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
                      iterations=3, config={"heartbeat": 3600, "root": str(tmp_path)})
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
                      iterations=8, clock=Clock(), config={"root": str(tmp_path)})
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
                      config={"heartbeat": 3600, "root": str(tmp_path)})
    assert not run.done
    assert [e["reason"] for e in run.events] == ["first", "recovered"]
    assert "No such file or directory" in str(run.events[0]["error"])
    assert run.events[0]["maxlen"] == 2
    entries, _ = decode(run.events[1])
    assert entries[0]["movies"] == 1


@pytest.mark.parametrize("iterations", [3, 5])
def test_the_last_event_after_an_error_repeats_the_error_not_an_old_listing(
        tmp_path: Path, iterations: int) -> None:
    """The host's ``interrupted`` event carries the snapshot: after an error it must say
    the error (the Worker Frames page skips the host), not lack ``entries`` (the page
    fails on that) nor repeat folders that are gone; after a recovery, the new listing."""
    root = tmp_path / "frames"
    movie(root, "S1/x_fractions.tiff")

    class Vanishing(FramesMonitorHandler):
        def process(self) -> None:
            if self.count == 2:
                movie(root, "S1/y_fractions.tiff")
                os.rename(root, tmp_path / "gone")
            if self.count == 4:
                os.rename(tmp_path / "gone", root)
            super().process()

    run = run_handler(Vanishing, {"name": "frames", "args": {"root": str(root)}},
                      iterations=iterations, config={"heartbeat": 3600, "root": str(tmp_path)})
    snapshot = run.handler.snapshot()
    if iterations == 3:  # ended while the root is gone
        assert "error" in run.last and "entries" not in run.last
        assert snapshot == {"maxlen": 2, "root": str(root), "error": run.last["error"]}
    else:
        assert run.last["reason"] == "recovered" and "error" not in snapshot
        assert decode(snapshot)[0][0]["movies"] == 2


def test_unmounted_root_is_an_error(tmp_path: Path) -> None:
    run = run_handler(FramesMonitorHandler, {"name": "frames", "args": {"root": str(tmp_path)}},
                      config={"expect_mount": True, "root": str(tmp_path)})
    assert "is not mounted" in str(run.last["error"])


def test_root_from_emhub_sessions_config(tmp_path: Path) -> None:
    services = FakeEMhub(configs={"sessions": {"raw": {"root_frames": str(tmp_path)}}})
    run = run_handler(FramesMonitorHandler, {"name": "frames"}, services=services)
    assert run.last["root"] == str(tmp_path)
    assert ("get_config", "sessions") in services.calls


def test_change_is_resent_after_an_outage_longer_than_the_retry_window(tmp_path: Path) -> None:
    # The core's send gives up (TransportError) once its retry window is over: the change
    # made during the outage must still reach EMhub at the first scan after it.
    movie(tmp_path, "S1/Images-Disc1/GridSquare_1/Data/FoilHole_1_fractions.tiff")
    stored: list[EncodedEvent] = []
    down = {"now": False}

    def send(event: EncodedEvent) -> None:
        if down["now"]:
            raise TransportError("EMhub unreachable: gave up after the 120 s retry window")
        stored.append(event)

    class Outage(FramesMonitorHandler):
        def process(self) -> None:
            if self.count == 2:
                down["now"] = True
                movie(tmp_path, "S1/Images-Disc1/GridSquare_1/Data/FoilHole_2_fractions.tiff")
            if self.count == 4:
                down["now"] = False
            super().process()

    context = make_context({"name": "frames", "args": {"root": str(tmp_path)}},
                           config={"heartbeat": 3600, "root": str(tmp_path), "usage_step": 1.0},
                           clock=Clock())
    context.send = send
    run_task(Outage(context), max_iterations=6, wait=False)
    assert [e["reason"] for e in stored] == ["first", "change"]
    entries, _ = decode(stored[1])
    assert entries[0]["movies"] == 2


def test_error_event_lost_in_an_outage_is_sent_again(tmp_path: Path) -> None:
    root = tmp_path / "frames"  # missing: every scan is the same error
    attempts: list[EncodedEvent] = []
    stored: list[EncodedEvent] = []

    def send(event: EncodedEvent) -> None:
        attempts.append(event)
        if len(attempts) == 1:
            raise TransportError("EMhub unreachable")
        stored.append(event)

    context = make_context({"name": "frames", "args": {"root": str(root)}},
                           config={"heartbeat": 3600, "root": str(tmp_path)})
    context.send = send
    run_task(FramesMonitorHandler(context), max_iterations=3, wait=False)
    assert len(attempts) == 2 and len(stored) == 1 and "error" in stored[0]


def test_task_root_confined_to_configured_root_by_default(tmp_path: Path) -> None:
    frames, elsewhere = tmp_path / "frames", tmp_path / "etc"
    movie(frames, "S1/a_fractions.tiff")
    movie(elsewhere, "passwd", 10)
    config = {"root": str(frames)}
    refused = run_handler(FramesMonitorHandler,
                          {"name": "frames", "args": {"root": str(elsewhere)}},
                          iterations=2, config=config)
    assert refused.done and len(refused.events) == 1
    assert "outside the allowed roots" in str(refused.last["error"])
    assert "entries" not in refused.last and "passwd" not in json.dumps(refused.events)
    inside = run_handler(FramesMonitorHandler,
                         {"name": "frames", "args": {"root": str(frames / "S1")}},
                         config=config)
    assert not inside.done and decode(inside.last)[0][0]["name"] == "a_fractions.tiff"


def test_task_root_confined_to_emhub_root_frames(tmp_path: Path) -> None:
    frames, elsewhere = tmp_path / "frames", tmp_path / "other"
    frames.mkdir()
    elsewhere.mkdir()
    services = FakeEMhub(configs={"sessions": {"raw": {"root_frames": str(frames)}}})
    ok = run_handler(FramesMonitorHandler, {"name": "frames", "args": {"root": str(frames)}},
                     services=services)
    assert not ok.done and ok.last["root"] == str(frames)
    refused = run_handler(FramesMonitorHandler, {"name": "frames", "args": {"root": "/etc"}},
                          services=services)
    assert refused.done and "outside the allowed roots" in str(refused.last["error"])


def test_task_root_refused_when_no_root_is_configured() -> None:
    run = run_handler(FramesMonitorHandler, {"name": "frames", "args": {"root": "/"}},
                      services=FakeEMhub())
    assert run.done and "allowed_roots" in str(run.last["error"])
    assert "entries" not in run.last


def test_allowed_roots_widen_the_default(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    run = run_handler(FramesMonitorHandler, {"name": "frames", "args": {"root": str(other)}},
                      config={"root": "/nonexistent", "allowed_roots": [str(tmp_path)]})
    assert not run.done and run.last["root"] == str(other)


def test_task_root_swapped_for_a_link_outside_is_not_scanned(tmp_path: Path) -> None:
    frames, secret = tmp_path / "frames", tmp_path / "secret"
    movie(frames / "S1", "a_fractions.tiff")
    movie(secret, "key.pem", 10)

    class Swapping(FramesMonitorHandler):
        def process(self) -> None:
            if self.count == 2:  # the share's folder becomes a link after setup
                for child in (frames / "S1").iterdir():
                    child.unlink()
                (frames / "S1").rmdir()
                (frames / "S1").symlink_to(secret)
            super().process()

    run = run_handler(Swapping, {"name": "frames", "args": {"root": str(frames / "S1")}},
                      iterations=2, config={"root": str(frames)})
    assert not run.done and "outside the allowed roots" in str(run.last["error"])
    assert "key.pem" not in json.dumps(run.events)


def test_loose_files_carry_zero_movies(tmp_path: Path) -> None:
    movie(tmp_path, "notes.txt", 5)
    movie(tmp_path, "S1/a_fractions.tiff")
    run = run_handler(FramesMonitorHandler, {"name": "frames"}, config={"root": str(tmp_path)})
    entries, _ = decode(run.last)
    assert {e["name"]: e["movies"] for e in entries} == {"S1": 1, "notes.txt": 0}
    # what EMhub's page does with them: sort by movies
    assert sorted(entries, key=lambda e: e["movies"])[0]["name"] == "notes.txt"


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


@pytest.mark.parametrize("config,message", [
    ({"allowed_roots": ["relative"]}, "allowed_roots must be a list of absolute paths"),
    ({"allowed_roots": 3}, "allowed_roots must be a list of absolute paths"),
    ({"root": "/", "scan_threads": -1}, "scan_threads"),
    ({"root": "/", "scan_threads": True}, "scan_threads"),
    ({"root": "/", "usage_step": 2}, "usage_step"),
])
def test_bad_config_ends_the_task_with_a_clear_error(config: dict[str, Any],
                                                     message: str) -> None:
    run = run_handler(FramesMonitorHandler, {"name": "frames", "args": {"root": "/"}},
                      config=config)
    assert run.done and message in str(run.last["error"])


def test_no_root_anywhere() -> None:
    run = run_handler(FramesMonitorHandler, {"name": "frames"}, services=FakeEMhub())
    assert run.done and "raw.root_frames" in str(run.last["error"])


def test_period_floor_from_config() -> None:
    run = run_handler(FramesMonitorHandler, {"name": "frames", "args": {"root": "/",
                                                                        "period": 0.01}},
                      iterations=0, config={"root": "/"})
    assert run.handler.interval == 5.0


def test_local_run_end_to_end(tmp_path: Path) -> None:
    root = tmp_path / "frames"
    movie(root, "S00301_grid1/Images-Disc1/GridSquare_1/Data/FoilHole_1_fractions.tiff", 4096)
    movie(root, "README_frames.txt", 10)
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(f'[[tasks]]\nname = "frames"\nargs = {{ period = 0.1 }}\n\n'
                     f'[emhub.config.sessions]\nraw = {{ root_frames = "{root}" }}\n')
    config = tmp_path / "config.toml"
    # min_interval 0: the core's 5 s floor between steps has tests of its own
    config.write_text(f'[worker]\nstate_dir = "{tmp_path / "state"}"\nmin_interval = 0\n\n'
                      # usage_step: other work on the same disk must not count as a change
                      '[plugins.frames-monitor]\nmin_period = 0\nusage_step = 0.5\n')
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
