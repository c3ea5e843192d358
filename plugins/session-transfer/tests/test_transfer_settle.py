"""Settling rules: growing files, future mtimes, vanishing files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from emworker_session_transfer import engine as engine_module
from emworker_session_transfer.engine import Candidate, SessionTransfer
from emworker_session_transfer.settings import TransferSettings
from emworker_session_transfer.testkit import FakeClock, write

from emhub_worker_core.guard import SettleTracker


def test_tracker_needs_quiet_period_and_refreshes_on_change() -> None:
    tracker = SettleTracker(quiet_seconds=60)
    assert not tracker.observe("a", 10, 1, now=0)
    assert not tracker.observe("a", 10, 1, now=59)
    assert tracker.observe("a", 10, 1, now=60)
    assert not tracker.observe("a", 20, 2, now=61)     # changed: record refreshed
    assert not tracker.observe("a", 20, 2, now=120)
    assert tracker.observe("a", 20, 2, now=121)


@pytest.fixture
def engine(tmp_path: Path) -> SessionTransfer:
    (tmp_path / "frames").mkdir()
    (tmp_path / "raw").mkdir()
    clock = FakeClock()
    eng = SessionTransfer(tmp_path / "frames", tmp_path / "raw" / "s", tmp_path / "raw",
                          TransferSettings(quiet_seconds=30), clock, __import__("logging")
                          .getLogger("t"))
    eng.open()
    yield eng
    eng.close()


def names(ready: list) -> list[str]:  # type: ignore[type-arg]
    return [c.rel for c in ready]


def settled(engine: SessionTransfer) -> list[Candidate]:
    """The files ready after a first sighting and the quiet period (30 s)."""
    clock: FakeClock = engine.clock  # type: ignore[assignment]
    engine.scan()
    clock.advance(30)
    return engine.scan()[0]


def test_growing_file_is_transferred_once_it_settles(engine: SessionTransfer) -> None:
    clock: FakeClock = engine.clock  # type: ignore[assignment]
    movie = engine.frames / "FoilHole_1_fractions.tiff"
    write(movie, 1000)
    for size in (2000, 3000, 4000):          # written to across many scans
        assert engine.scan() == ([], 1)
        clock.advance(40)
        write(movie, size)
    assert engine.scan() == ([], 1)          # last change seen now
    clock.advance(29)
    assert engine.scan() == ([], 1)
    clock.advance(1)
    ready, pending = engine.scan()
    assert names(ready) == ["FoilHole_1_fractions.tiff"] and ready[0].size == 4000
    result = engine.transfer(ready, lambda f, m: None)
    assert result.new_files == 1 and not movie.exists()
    assert (engine.dest / movie.name).stat().st_size == 4000


def test_future_mtime_does_not_block_or_hurry(engine: SessionTransfer) -> None:
    clock: FakeClock = engine.clock  # type: ignore[assignment]
    path = engine.frames / "a.xml"
    write(path, 100)
    future = time.time() + 86400
    os.utime(path, (future, future))
    assert engine.scan() == ([], 1)           # a future mtime is not "old enough"
    clock.advance(30)
    assert names(engine.scan()[0]) == ["a.xml"]


def test_vanished_file_is_forgotten(engine: SessionTransfer) -> None:
    clock: FakeClock = engine.clock  # type: ignore[assignment]
    write(engine.frames / "tmp.xml", 100)
    assert engine.scan() == ([], 1)
    (engine.frames / "tmp.xml").unlink()
    clock.advance(60)
    assert engine.scan() == ([], 0)
    assert engine.settle.pending == 0


def test_vanished_between_listing_and_stat(engine: SessionTransfer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    write(engine.frames / "gone.xml", 100)
    write(engine.frames / "kept.xml", 100)
    real_scandir = os.scandir

    class Vanishing:
        """A directory entry whose file is deleted right after the listing."""

        def __init__(self, entry: os.DirEntry) -> None:  # type: ignore[type-arg]
            self._entry, self.name = entry, entry.name

        def is_dir(self, follow_symlinks: bool = True) -> bool:
            return False

        def is_file(self, follow_symlinks: bool = True) -> bool:
            return True

        def stat(self, follow_symlinks: bool = True) -> os.stat_result:
            raise FileNotFoundError(self._entry.path)

    class Listing:
        def __init__(self, path: Path) -> None:
            self._it = real_scandir(path)

        def __enter__(self):  # type: ignore[no-untyped-def]
            return [Vanishing(e) if e.name == "gone.xml" else e for e in self._it]

        def __exit__(self, *exc: object) -> None:
            self._it.close()
    monkeypatch.setattr(engine_module.os, "scandir", Listing)
    assert engine.scan() == ([], 1)
    assert engine.settle.pending == 1


def test_vanished_after_settling_is_skipped_without_error(engine: SessionTransfer) -> None:
    write(engine.frames / "x.jpg", 100)
    ready = settled(engine)
    (engine.frames / "x.jpg").unlink()
    result = engine.transfer(ready, lambda f, m: None)
    assert result.new_files == 0 and result.errors == []
    assert not list(engine.dest.glob("*x.jpg*"))


def test_hidden_and_symlinked_files_are_ignored(engine: SessionTransfer) -> None:
    write(engine.frames / ".FoilHole_1_fractions.tiff.AbC123", 100)
    (engine.frames / "link.xml").symlink_to("/etc/passwd")
    assert engine.scan() == ([], 0)


def test_stop_request_drops_copies_not_started(engine: SessionTransfer) -> None:
    for i in range(40):
        write(engine.frames / f"f{i:02d}.xml", 100)
    ready = settled(engine)
    calls = {"n": 0}

    def stopping() -> bool:
        calls["n"] += 1
        return calls["n"] > 3
    result = engine.transfer(ready, lambda f, m: None, stopping)
    assert result.new_files < 40
    recorded = set(engine.manifest.entries)
    on_disk = {p.name for p in engine.dest.iterdir() if p.is_file()}
    assert recorded == on_disk  # whatever was copied is recorded, nothing half done


def test_a_backlog_of_movies_is_recorded_and_moved_in_byte_capped_groups(
        engine: SessionTransfer, monkeypatch: pytest.MonkeyPatch) -> None:
    # 6 movies of 400 kB, groups capped at 1 MB: the sources leave the share and EMhub
    # hears of them every 3 movies, not once at the end of the backlog (batch is 128)
    monkeypatch.setattr(engine_module, "GROUP_BYTES", 1_000_000)
    for i in range(6):
        write(engine.frames / f"FoilHole_{i}_fractions.tiff", 400_000)
    ready = settled(engine)
    batches: list[tuple[int, int]] = []
    left_at_each: list[int] = []

    def on_batch(files: int, movies: int) -> None:
        batches.append((files, movies))
        left_at_each.append(len(list(engine.frames.iterdir())))
    result = engine.transfer(ready, on_batch)
    assert result.new_movies == 6 and result.errors == []
    assert batches == [(3, 3), (3, 3)]
    assert left_at_each == [3, 0]  # each group's sources gone before EMhub hears of it
