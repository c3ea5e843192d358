"""Small files go to the copiers in bundles; every copy is durable before its record."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

import pytest
from emworker_session_transfer import commit as commit_module
from emworker_session_transfer import copier
from emworker_session_transfer import engine as engine_module
from emworker_session_transfer.engine import Candidate, SessionTransfer
from emworker_session_transfer.manifest import Manifest
from emworker_session_transfer.settings import TransferSettings
from emworker_session_transfer.testkit import FakeClock, write


def make_engine(tmp_path: Path, **settings: Any) -> SessionTransfer:
    (tmp_path / "frames").mkdir()
    (tmp_path / "raw").mkdir()
    eng = SessionTransfer(tmp_path / "frames", tmp_path / "raw" / "s", tmp_path / "raw",
                          TransferSettings(quiet_seconds=0, **settings), FakeClock(),
                          logging.getLogger("t"))
    eng.open()
    return eng


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[SessionTransfer]:
    eng = make_engine(tmp_path)
    yield eng
    eng.close()


def settled(engine: SessionTransfer) -> list[Candidate]:
    engine.scan()
    return engine.scan()[0]


@pytest.mark.parametrize("verify", ["size", "reread", "storage"])
def test_small_files_are_on_disk_before_their_record_in_every_verify_mode(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verify: str) -> None:
    # a power cut after the record must not leave a recorded copy without its data: the
    # group's syncfs comes first whatever `verify` says (once skipped for "size")
    eng = make_engine(tmp_path, verify=verify)
    calls: list[str] = []
    real_sync, real_add = copier.sync_filesystem, Manifest.add_all

    def sync(path: Path) -> None:
        calls.append("sync")
        real_sync(path)

    def add_all(self: Manifest, entries: list[Any]) -> None:
        calls.append(f"record {len(entries)}")
        real_add(self, entries)
    monkeypatch.setattr(commit_module, "sync_filesystem", sync)
    monkeypatch.setattr(Manifest, "add_all", add_all)
    try:
        for i in range(5):
            write(eng.frames / f"f{i}.xml", 2000)
        result = eng.transfer(settled(eng), lambda f, m: None)
    finally:
        eng.close()
    assert result.new_files == 5 and result.errors == []
    assert calls == ["sync", "record 5"]


def test_small_files_go_in_bundles_and_a_movie_alone(
        engine: SessionTransfer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "COPY_BUNDLE_FILES", 4)
    jobs: list[list[str]] = []
    real = engine.pool.submit

    def submit(tag: tuple[list[Candidate], bool], work: Any) -> None:
        jobs.append([c.rel for c in tag[0]])
        real(tag, work)
    monkeypatch.setattr(engine.pool, "submit", submit)
    for i in range(10):
        write(engine.frames / f"f{i}.xml", 1000)
    write(engine.frames / "FoilHole_1_fractions.tiff", 1000)
    result = engine.transfer(settled(engine), lambda f, m: None)
    assert result.new_files == 11 and result.new_movies == 1
    assert sorted(len(job) for job in jobs) == [1, 2, 4, 4]
    assert ["FoilHole_1_fractions.tiff"] in jobs
    assert sorted(engine.manifest.entries) == sorted(r for job in jobs for r in job)
    for rel in engine.manifest.entries:  # every copy whole, the movie moved
        assert (engine.dest / rel).stat().st_size == 1000
    assert not (engine.frames / "FoilHole_1_fractions.tiff").exists()


def test_one_file_vanishing_in_a_bundle_leaves_the_others_copied(
        engine: SessionTransfer, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(6):
        write(engine.frames / f"f{i}.xml", 1000)
    ready = settled(engine)
    (engine.frames / "f3.xml").unlink()
    result = engine.transfer(ready, lambda f, m: None)
    assert result.errors == [] and result.source_problems == []
    assert sorted(engine.manifest.entries) == [f"f{i}.xml" for i in (0, 1, 2, 4, 5)]


def test_a_source_changed_mid_bundle_is_reported_and_its_neighbours_copied(
        engine: SessionTransfer, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(4):
        write(engine.frames / f"f{i}.xml", 1000)
    ready = settled(engine)

    def grow(rel: str) -> None:  # after f1's only chunk: f2 is opened, not copied yet
        if rel == "f1.xml":
            with open(engine.frames / "f2.xml", "ab") as fh:
                fh.write(b"more")
    monkeypatch.setattr(copier, "after_chunk", grow)
    result = engine.transfer(ready, lambda f, m: None)
    assert sorted(engine.manifest.entries) == ["f0.xml", "f1.xml", "f3.xml"]
    assert any("f2.xml" in p for p in result.source_problems), result.source_problems
    assert sorted(p.name for p in engine.dest.iterdir() if p.is_file()) == \
        ["f0.xml", "f1.xml", "f3.xml"]  # no temp file left, nothing unrecorded


def test_a_stop_skips_the_files_of_a_bundle_not_started(
        engine: SessionTransfer, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(8):
        write(engine.frames / f"f{i}.xml", 1000)
    ready = settled(engine)

    def stop_after_first(rel: str) -> None:
        if rel == "f0.xml":
            engine.pool.cancel_queued()
    monkeypatch.setattr(copier, "after_chunk", stop_after_first)
    result = engine.transfer(ready, lambda f, m: None)
    assert result.new_files == 1 and list(engine.manifest.entries) == ["f0.xml"]
    assert [p.name for p in engine.dest.iterdir() if p.is_file()] == ["f0.xml"]
    assert not engine.pool.cancelled()  # the next step copies again
