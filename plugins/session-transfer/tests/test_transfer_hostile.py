"""Hostile task args and an unfriendly share: bad session ids, unreadable folders,
symlinks swapped in after the scan, a source truncated during its copy."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from emworker_session_transfer.engine import SessionTransfer
from emworker_session_transfer.handler import MonitorHandler, TransferHandler
from emworker_session_transfer.settings import TransferSettings
from emworker_session_transfer.testkit import (
    FakeClock,
    Tree,
    build_tree,
    fast_config,
    session_services,
    sha256,
    write,
)

from emhub_worker_core.testing import run_handler

BAD_IDS = [201.7, True, False, "12a", -1, 0, 1e3, "1e3", " 301", "٣٠١", [301], {"id": 301}]


class Ticking:
    def __init__(self) -> None:
        self.clock = FakeClock()

    def __call__(self) -> float:
        self.clock.advance(0.5)
        return self.clock()


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
@pytest.mark.parametrize("action", ["transfer", "monitor"])
def test_non_integer_session_id_is_refused_and_nothing_touched(tree: Tree, bad: Any,
                                                               action: str) -> None:
    services = session_services(tree.frames_root, tree.raw_root)
    services.sessions[301]["extra"]["raw"] = {"path": str(tree.dest)}
    before = repr(services.sessions)
    handler = TransferHandler if action == "transfer" else MonitorHandler
    result = run_handler(handler, {"name": "session", "args": {
        "action": action, "session_id": bad, "raw": str(tree.dest)}}, iterations=None,
        services=services, config=fast_config())
    assert len(result.events) == 1, result.events
    assert result.last["done"] == 1 and "session_id" in result.last["error"]
    assert repr(services.sessions) == before
    assert not [c for c in services.calls if c[0] == "update_session_extra"]
    assert not tree.dest.exists()


@pytest.mark.parametrize("good", [301, "301"])
def test_session_id_int_or_digits_is_accepted(tree: Tree, good: Any) -> None:
    services = session_services(tree.frames_root, tree.raw_root)
    result = run_handler(TransferHandler, {"name": "session", "args": {
        "action": "transfer", "session_id": good}}, iterations=None, services=services,
        clock=Ticking(), config=fast_config(quiet_seconds=1, stop_after_idle=30))
    assert result.last["done"] == 1 and "error" not in result.last
    assert services.sessions[301]["extra"]["raw"]["files_total"] == len(tree.files)


# -- unreadable folders ------------------------------------------------------------------
@contextlib.contextmanager
def unprivileged(root: Path) -> Iterator[None]:
    """Root reads everything: run as nobody (files chowned) so EACCES is real."""
    if os.geteuid() != 0:
        yield
        return
    for folder, dirs, names in os.walk(root):
        for name in [*dirs, *names, "."]:
            os.chown(os.path.join(folder, name), 65534, 65534, follow_symlinks=False)
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def open_tree() -> Iterator[Tree]:
    """A session tree whose parent folders an unprivileged user may traverse."""
    base = Path(tempfile.mkdtemp(prefix="transfer-hostile-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        yield build_tree(base)
    finally:
        for folder, dirs, _names in os.walk(base):
            for name in dirs:
                os.chmod(os.path.join(folder, name), 0o755)
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_unreadable_folder_is_reported_retried_and_blocks_done(open_tree: Tree) -> None:
    tree = open_tree
    locked = tree.frames / "Images-Disc1" / "GridSquare_12345671"
    inside = [rel for rel in tree.files if rel.startswith("Images-Disc1/GridSquare_12345671")]
    state: dict[str, Any] = {"steps_locked": 0}
    os.chmod(locked, 0)

    class Handler(TransferHandler):
        def process(self) -> None:
            super().process()
            if self.count == 80:  # long past stop_after_idle: it did not end meanwhile
                state["done_while_locked"] = self.finished
                os.chmod(locked, 0o755)
                state["left"] = [rel for rel in inside if (tree.frames / rel).exists()]

    services = session_services(tree.frames_root, tree.raw_root)
    with unprivileged(tree.root):
        result = run_handler(Handler, {"name": "session", "args": {
            "action": "transfer", "session_id": 301}}, iterations=400, services=services,
            clock=Ticking(), config=fast_config(quiet_seconds=1, stop_after_idle=10))
    assert state["done_while_locked"] is False
    assert state["left"] == inside  # nothing under the locked folder was touched
    errors = [e for e in result.events if "error" in e and "done" not in e]
    assert errors and str(locked) in errors[0]["error"], result.events
    assert result.last["done"] == 1 and "error" not in result.last, result.last
    for rel, digest in tree.files.items():
        assert sha256(tree.dest / rel) == digest, rel


def test_monitor_reports_unreadable_folder(open_tree: Tree) -> None:
    tree = open_tree
    write(tree.dest / "a" / "x_fractions.tiff", 1000)
    write(tree.dest / "b" / "y.xml", 10)
    os.chmod(tree.dest / "b", 0)
    with unprivileged(tree.root):
        result = run_handler(MonitorHandler, {"name": "session", "args": {
            "action": "monitor", "raw": str(tree.dest)}}, iterations=None,
            config=fast_config(raw_root=str(tree.raw_root)))
    assert result.last["done"] == 1 and result.last["files_total"] == 1
    assert str(tree.dest / "b") in result.last["error"]


def test_walker_rules_are_the_same_for_transfer_and_monitor(tree: Tree) -> None:
    """Hidden files and symlinks are left out by both (monitor used to count them)."""
    run_handler(TransferHandler, {"name": "session", "args": {
        "action": "transfer", "session_id": 301}}, iterations=None, clock=Ticking(),
        services=session_services(tree.frames_root, tree.raw_root),
        config=fast_config(quiet_seconds=1, stop_after_idle=30))
    write(tree.dest / ".hidden.xml", 10)
    (tree.dest / "link.xml").symlink_to("/etc/passwd")
    (tree.dest / "linkdir").symlink_to("/etc")
    result = run_handler(MonitorHandler, {"name": "session", "args": {
        "action": "monitor", "raw": str(tree.dest)}}, iterations=None,
        config=fast_config(raw_root=str(tree.raw_root)))
    assert result.last["files_total"] == len(tree.files)


# -- the share changes under us ------------------------------------------------------------
@pytest.fixture
def engine(tmp_path: Path) -> Iterator[SessionTransfer]:
    (tmp_path / "frames" / "S").mkdir(parents=True)
    (tmp_path / "raw").mkdir()
    eng = SessionTransfer(tmp_path / "frames" / "S", tmp_path / "raw" / "s", tmp_path / "raw",
                          TransferSettings(quiet_seconds=30, chunk_kib=64), FakeClock(),
                          logging.getLogger("t"))
    eng.open()
    yield eng
    eng.close()


def settled(eng: SessionTransfer) -> list[Any]:
    eng.scan()
    eng.clock.advance(30)  # type: ignore[attr-defined]
    ready, _ = eng.scan()
    return ready


def test_file_swapped_for_symlink_after_scan(engine: SessionTransfer, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret_fractions.tiff"
    write(secret, 300_000, seed=7)
    digest = sha256(secret)
    movie = engine.frames / "Data" / "m_fractions.tiff"
    write(movie, 300_000)
    ready = settled(engine)
    assert [c.rel for c in ready] == ["Data/m_fractions.tiff"]
    movie.unlink()
    movie.symlink_to(secret)
    result = engine.transfer(ready, lambda f, m: None)
    assert result.new_files == 0 and not engine.manifest.entries
    assert not (engine.dest / "Data" / "m_fractions.tiff").exists()
    assert sha256(secret) == digest and movie.is_symlink()
    assert any("symlink" in p for p in result.source_problems), result.source_problems


def test_parent_folder_swapped_for_symlink_after_scan(engine: SessionTransfer,
                                                      tmp_path: Path) -> None:
    data = engine.frames / "Data"
    write(data / "m_fractions.tiff", 300_000)
    write(data / "m.xml", 1000)
    ready = settled(engine)
    assert len(ready) == 2
    outside = tmp_path / "outside"
    write(outside / "m_fractions.tiff", 300_000, seed=9)
    write(outside / "m.xml", 1000, seed=9)
    kept = {p.name: sha256(p) for p in outside.iterdir()}
    data.rename(tmp_path / "elsewhere")
    data.symlink_to(outside)
    result = engine.transfer(ready, lambda f, m: None)
    assert result.new_files == 0 and not engine.manifest.entries
    assert {p.name: sha256(p) for p in outside.iterdir()} == kept  # nothing deleted
    assert not list((engine.dest / "Data").glob("*m*"))              # nothing copied
    assert result.source_problems


def test_parent_swapped_between_copy_and_removal(engine: SessionTransfer,
                                                 tmp_path: Path) -> None:
    """The folder is swapped while the movie is being copied: the copy is recorded, and
    the file outside the root with the same name is not deleted."""
    from emworker_session_transfer.testkit import on_each_chunk

    data = engine.frames / "Data"
    write(data / "m_fractions.tiff", 300_000)
    ready = settled(engine)
    outside = tmp_path / "outside"
    write(outside / "m_fractions.tiff", 300_000)  # same size; mtime set below
    src_stat = (data / "m_fractions.tiff").stat()
    os.utime(outside / "m_fractions.tiff", ns=(src_stat.st_atime_ns, src_stat.st_mtime_ns))

    def swap(_rel: str) -> None:
        if not data.is_symlink():
            data.rename(tmp_path / "elsewhere")
            data.symlink_to(outside)
    on_each_chunk(swap)
    try:
        engine.transfer(ready, lambda f, m: None)
    finally:
        on_each_chunk(None)
    assert (outside / "m_fractions.tiff").exists()


TRUNCATE_SCRIPT = r"""
import logging, os, sys
from pathlib import Path
from emworker_session_transfer.engine import SessionTransfer
from emworker_session_transfer.settings import TransferSettings
from emworker_session_transfer.testkit import FakeClock, on_each_chunk

frames, dest = Path(sys.argv[1]), Path(sys.argv[2])
clock = FakeClock()
eng = SessionTransfer(frames, dest, dest.parent, TransferSettings(quiet_seconds=1,
                      chunk_kib=64, workers=2), clock, logging.getLogger("t"))
eng.open()
cut = []
def truncate(rel):
    if rel.endswith("_fractions.tiff") and not cut:  # mid-copy: after the first chunk
        os.truncate(frames / rel, 5000)
        cut.append(rel)
on_each_chunk(truncate)
eng.scan(); clock.advance(2)
ready, _ = eng.scan()
first = eng.transfer(ready, lambda f, m: None)
print("PROBLEMS", first.source_problems)
print("FIRST", first.new_files)
on_each_chunk(None)
eng.scan(); clock.advance(2)            # the truncated file settles again ...
ready, _ = eng.scan()
second = eng.transfer(ready, lambda f, m: None)   # ... and is copied as it is now
print("SECOND", second.new_files, sorted(eng.manifest.entries))
eng.close()
"""


def test_source_truncated_during_copy_does_not_kill_the_process(tmp_path: Path) -> None:
    """A real truncation after the first chunk (an mmap copy dies of SIGBUS here)."""
    frames, dest = tmp_path / "frames" / "S", tmp_path / "raw" / "s"
    write(frames / "Data" / "m_fractions.tiff", 2 << 20)
    write(frames / "Data" / "m.xml", 1000)
    (tmp_path / "raw").mkdir()
    done = subprocess.run([sys.executable, "-c", TRUNCATE_SCRIPT, str(frames), str(dest)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-3000:])
    out = done.stdout
    assert "truncated while being copied" in out and "Data/m_fractions.tiff" in out, out
    assert "FIRST 1" in out  # the xml went through
    assert "SECOND 1 ['Data/m.xml', 'Data/m_fractions.tiff']" in out, out
    assert (dest / "Data" / "m_fractions.tiff").stat().st_size == 5000
    assert not [p for p in dest.rglob(".emworker-tmp-*")]


# -- args and settings --------------------------------------------------------------------
def test_monitor_with_raw_only_reports_events(tree: Tree) -> None:
    write(tree.dest / "Data" / "a_fractions.tiff", 1000)
    result = run_handler(MonitorHandler, {"name": "session", "args": {
        "action": "monitor", "raw": str(tree.dest), "repeat": 2}}, iterations=None,
        config=fast_config(raw_root=str(tree.raw_root)))
    assert [e.get("done") for e in result.events] == [None, 1]
    assert result.last["movies"] == 1 and "error" not in result.last


def test_monitor_without_session_or_raw_is_a_clear_error(tree: Tree) -> None:
    result = run_handler(MonitorHandler, {"name": "session", "args": {"action": "monitor"}},
                         iterations=None, config=fast_config(raw_root=str(tree.raw_root)))
    assert len(result.events) == 1 and result.last["done"] == 1
    assert "needs session_id" in result.last["error"]


def test_sleep_delays_the_first_scan(tree: Tree) -> None:
    clock = Ticking()
    services = session_services(tree.frames_root, tree.raw_root)
    seen: list[float] = []

    class Handler(TransferHandler):
        def process(self) -> None:
            super().process()
            if self.engine is not None and self.engine.manifest.entries and not seen:
                seen.append(clock.clock())
    start = clock.clock()
    result = run_handler(Handler, {"name": "session", "args": {
        "action": "transfer", "session_id": 301, "sleep": 100}}, iterations=None,
        services=services, clock=clock, config=fast_config(quiet_seconds=1,
                                                            stop_after_idle=30))
    assert result.last["done"] == 1
    assert seen and seen[0] - start >= 100


@pytest.mark.parametrize("bad", ["soon", True, -5, float("nan")], ids=repr)
def test_bad_sleep_is_refused(tree: Tree, bad: Any) -> None:
    result = run_handler(TransferHandler, {"name": "session", "args": {
        "action": "transfer", "session_id": 301, "sleep": bad}}, iterations=None,
        services=session_services(tree.frames_root, tree.raw_root), config=fast_config())
    assert len(result.events) == 1 and "sleep" in result.last["error"]


def test_test_only_key_is_not_a_production_setting() -> None:
    from emhub_worker_core import ConfigError
    from emhub_worker_core.testing import check_plugin_table

    with pytest.raises(ConfigError, match="test_chunk_delay"):
        check_plugin_table("session-transfer", {"test_chunk_delay": 0.1})


def test_many_folders_do_not_exhaust_descriptors(engine: SessionTransfer) -> None:
    """Folder descriptors are kept open only while a queued copy needs them."""
    import resource

    for i in range(700):  # 1400 folders: more than the descriptor limit below
        write(engine.frames / f"GridSquare_{i}" / "Data" / f"f{i}.xml", 10)
        write(engine.frames / f"GridSquare_{i}" / "Data" / f"f{i}.jpg", 10)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ready = settled(engine)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))  # the usual default
    try:
        result = engine.transfer(ready, lambda f, m: None)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert result.new_files == 1400 and not result.errors and not result.source_problems
