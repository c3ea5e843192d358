"""The transfer handler end to end on a synthetic session, with a fake EMhub and clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emworker_session_transfer.copier import TEMP_PREFIX
from emworker_session_transfer.handler import TransferHandler
from emworker_session_transfer.manifest import MANIFEST_DIR, MANIFEST_NAME
from emworker_session_transfer.testkit import (
    FakeClock,
    Tree,
    fast_config,
    matches_record,
    session_services,
    sha256,
)

from emhub_worker_core.testing import run_handler

TASK = {"name": "session", "args": {"action": "transfer", "session_id": 301}}


def run(tree: Tree, clock: FakeClock, iterations: int, services=None, **config):  # type: ignore
    services = services or session_services(tree.frames_root, tree.raw_root)
    ticking = TickingClock(clock)
    result = run_handler(TransferHandler, TASK, iterations=iterations, services=services,
                         config=fast_config(**config), clock=ticking)
    return result, services


class TickingClock:
    """Each process() step reads the clock at its start; 11 s pass per step (> quiet)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def __call__(self) -> float:
        self.clock.advance(0.5)
        return self.clock()

    def monotonic(self) -> float:  # TaskContext.monotonic: moved by the wall reads alone
        return self.clock()


def assert_transferred(tree: Tree) -> None:
    for rel, digest in tree.files.items():
        assert sha256(tree.dest / rel) == digest, rel
        if rel.endswith("_fractions.tiff"):
            assert not (tree.frames / rel).exists(), f"movie {rel} still in frames"
        else:
            assert (tree.frames / rel).exists(), f"metadata {rel} removed from frames"
    assert not [p for p in tree.dest.rglob(f"{TEMP_PREFIX}*")]


def test_whole_session_is_moved_and_reported(tree: Tree) -> None:
    (tree.frames / "Images-Disc1" / "Empty").mkdir()
    result, services = run(tree, FakeClock(), iterations=None, quiet_seconds=1,
                           stop_after_idle=30)
    assert result.outcome.value == "done", result.events
    assert_transferred(tree)
    raw = services.sessions[301]["extra"]["raw"]
    movies = [r for r in tree.files if r.endswith("_fractions.tiff")]
    assert raw["files_total"] == len(tree.files)
    assert raw["movies"] == len(movies)
    assert raw["size"] == sum((tree.dest / r).stat().st_size for r in tree.files)
    assert raw["files"][".tiff"]["count"] == len(movies)
    assert raw["path"] == str(tree.dest) + "/" and raw["frames"] == str(tree.frames) + "/"
    assert raw["first_movie"].endswith("_fractions.tiff")
    progress = [e for e in result.events if "new_files" in e]
    assert sum(e["new_files"] for e in progress) == len(tree.files)
    assert progress[-1]["total_movies"] == len(movies)
    final = result.last
    assert final["done"] == 1 and final["files_total"] == len(tree.files)
    assert all(v is not None for e in result.events for v in e.values())
    assert all(isinstance(v, (int, float, str)) for v in final.values())
    assert not (tree.frames / "Images-Disc1" / "Empty").exists()  # only empty folders go
    assert (tree.frames / "Images-Disc1").is_dir()


def test_restart_copies_nothing_again(tree: Tree) -> None:
    run(tree, FakeClock(), iterations=None, quiet_seconds=1, stop_after_idle=30)
    manifest = tree.dest / MANIFEST_DIR / MANIFEST_NAME
    lines_before = manifest.read_text().splitlines()
    mtimes = {r: (tree.dest / r).stat().st_mtime_ns for r in tree.files}
    inodes = {r: (tree.dest / r).stat().st_ino for r in tree.files}
    result, _ = run(tree, FakeClock(), iterations=6, quiet_seconds=1, stop_after_idle=30)
    assert manifest.read_text().splitlines() == lines_before
    assert {r: (tree.dest / r).stat().st_ino for r in tree.files} == inodes
    assert {r: (tree.dest / r).stat().st_mtime_ns for r in tree.files} == mtimes
    assert not [e for e in result.events if e.get("new_files")]


def test_verified_movie_left_in_source_is_removed_on_resume(tree: Tree) -> None:
    run(tree, FakeClock(), iterations=None, quiet_seconds=1, stop_after_idle=30)
    manifest = tree.dest / MANIFEST_DIR / MANIFEST_NAME
    records = [json.loads(x) for x in manifest.read_text().splitlines()]
    movie = next(r for r in records if r["op"] == "copied" and r["movie"])
    # as if killed after recording the copy but before removing the source
    (tree.frames / movie["path"]).parent.mkdir(parents=True, exist_ok=True)
    (tree.frames / movie["path"]).write_bytes((tree.dest / movie["path"]).read_bytes())
    import os
    os.utime(tree.frames / movie["path"], ns=(movie["mtime_ns"], movie["mtime_ns"]))
    st = (tree.frames / movie["path"]).stat()  # the inode the copy would have recorded
    movie.update(source_dev=st.st_dev, source_ino=st.st_ino)
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records
                                if not (r["op"] == "moved" and r["path"] == movie["path"])))
    run(tree, FakeClock(), iterations=1)
    assert not (tree.frames / movie["path"]).exists()
    assert matches_record(tree.dest / movie["path"], movie)


def test_unrecorded_file_in_destination_is_not_trusted(tree: Tree) -> None:
    rel = "EpuSession.dm"
    target = tree.dest / rel
    target.parent.mkdir(parents=True)
    target.write_bytes(b"half")  # a copy from before, never recorded
    (tree.dest / f"{TEMP_PREFIX}dead-x.tiff").write_bytes(b"partial")
    run(tree, FakeClock(), iterations=None, quiet_seconds=1, stop_after_idle=30)
    assert sha256(target) == tree.files[rel]
    assert not (tree.dest / f"{TEMP_PREFIX}dead-x.tiff").exists()


def test_session_stops_after_idle_and_keeps_metadata(tree: Tree) -> None:
    clock = FakeClock()
    result, _ = run(tree, clock, iterations=None, quiet_seconds=1, stop_after_idle=20)
    assert result.outcome.value == "done"
    assert (tree.frames / "EpuSession.dm").exists()
    data = tree.frames / "Images-Disc1" / "GridSquare_12345670" / "Data"
    assert data.exists()  # xml/jpg copies stay in frames: only empty folders go


def test_monitor_action_reports_raw_folder(tree: Tree) -> None:
    from emworker_session_transfer.handler import MonitorHandler
    run(tree, FakeClock(), iterations=None, quiet_seconds=1, stop_after_idle=30)
    services = session_services(tree.frames_root, tree.raw_root)
    services.sessions[301]["extra"]["raw"] = {"path": str(tree.dest)}
    result = run_handler(MonitorHandler, {"name": "session", "args": {
        "action": "monitor", "session_id": 301, "repeat": 2}}, iterations=None,
        services=services)
    assert [e.get("done") for e in result.events] == [None, 1]
    raw = services.sessions[301]["extra"]["raw"]
    assert raw["files_total"] == len(tree.files)
    assert raw["movies"] == sum(r.endswith("_fractions.tiff") for r in tree.files)


def test_no_session_for_explicit_paths(tree: Tree, tmp_path: Path) -> None:
    args = {"frames": str(tree.frames), "raw": str(tree.raw_root / "out")}
    result = run_handler(TransferHandler, {"name": "session-transfer", "args": args},
                         iterations=None, clock=TickingClock(FakeClock()),
                         config=fast_config(quiet_seconds=1, stop_after_idle=30,
                                            frames_root=str(tree.frames_root),
                                            raw_root=str(tree.raw_root)))
    assert result.last["done"] == 1 and "error" not in result.last
    for rel, digest in tree.files.items():
        assert sha256(tree.raw_root / "out" / rel) == digest


def test_hard_cap_stops_a_session_that_never_goes_quiet(tree: Tree) -> None:
    """New files keep coming; the task still ends stop_after seconds after the first."""
    from emworker_session_transfer.testkit import write

    clock = FakeClock()

    class Busy(TransferHandler):
        def process(self) -> None:
            write(tree.frames / "late" / f"extra_{self.count}.xml", 100)
            super().process()

    services = session_services(tree.frames_root, tree.raw_root)
    result = run_handler(Busy, TASK, iterations=500, services=services, clock=TickingClock(clock),
                         config=fast_config(quiet_seconds=1, stop_after_idle=10_000,
                                            stop_after=60))
    assert result.outcome.value == "done" and result.last["done"] == 1
    assert result.handler.count < 500
    assert (tree.frames / "late").exists()  # what arrived at the end is left in place
    for rel, digest in tree.files.items():
        assert sha256(tree.dest / rel) == digest


def test_idle_rule_waits_for_the_quiet_period(tree: Tree) -> None:
    """Nothing new after the transfer: done only once stop_after_idle has passed."""
    clock = FakeClock()
    result, _ = run(tree, clock, iterations=None, quiet_seconds=1, stop_after_idle=20)
    last_transfer = max(i for i, e in enumerate(result.events) if "new_files" in e)
    steps_after = result.handler.count
    assert result.last["done"] == 1 and last_transfer < len(result.events) - 1
    assert steps_after > 20 / 0.5 / 2  # the clock ticked through the idle period first


def test_a_step_that_moved_files_marks_progress_and_an_idle_one_does_not(tree: Tree) -> None:
    """The core's min_interval floor applies unless a step marked progress (contract)."""
    marks: list[tuple[bool, bool]] = []

    class Recording(TransferHandler):
        def process(self) -> None:
            self.moved = False
            super().process()
            marks.append((self.moved, self.progress_marked))

        def update(self, event: Any) -> Any:
            self.moved = self.moved or "new_files" in event
            return super().update(event)

    run_handler(Recording, TASK, iterations=None,
                config=fast_config(quiet_seconds=1, stop_after_idle=30),
                services=session_services(tree.frames_root, tree.raw_root),
                clock=TickingClock(FakeClock()))
    assert (True, True) in marks and (False, False) in marks, marks
    assert all(moved == marked for moved, marked in marks), marks


def test_a_complete_session_ends_at_once_under_the_default_floor(tree: Tree) -> None:
    """Every file already written, quiet_seconds = 0, stop_after_idle = 0: the task ends
    as soon as its files are moved, although the core floors idle waits at 5 s (main
    waited out that floor between the first look at the files and the second)."""
    import time

    start = time.monotonic()
    result = run_handler(TransferHandler, TASK, iterations=None, wait=True,
                         min_interval=5.0,  # the core's default [worker] min_interval
                         services=session_services(tree.frames_root, tree.raw_root),
                         config=fast_config(quiet_seconds=0, stop_after_idle=0))
    elapsed = time.monotonic() - start
    assert result.outcome.value == "done" and result.last["done"] == 1, result.events
    assert_transferred(tree)
    assert elapsed < 3.0, f"{elapsed:.1f} s: the floor was waited out"


def test_an_idle_session_ends_when_the_idle_rule_says_not_a_period_later(tree: Tree) -> None:
    """Nothing new after the transfer: the next look is when stop_after_idle runs out
    (1 s here), not ``period`` (60 s) later."""
    import time

    start = time.monotonic()
    result = run_handler(TransferHandler, TASK, iterations=None, wait=True, min_interval=0.0,
                         services=session_services(tree.frames_root, tree.raw_root),
                         config=fast_config(quiet_seconds=0, stop_after_idle=1, period=60))
    elapsed = time.monotonic() - start
    assert result.outcome.value == "done" and result.last["done"] == 1, result.events
    assert_transferred(tree)
    assert 1.0 <= elapsed < 20, f"{elapsed:.1f} s"
