"""Destination full, read-only or gone: error events, sources untouched, back-off, recovery."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest
from emworker_session_transfer import copier
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


def ticking() -> Callable[[], float]:
    clock = FakeClock()

    def now() -> float:
        clock.advance(0.5)
        return clock()
    return now


def run_with_fault(tree: Tree, clear_after: int, clear: Callable[[], None]):  # type: ignore
    """Run to the end; the problem is cleared after ``clear_after`` back-offs."""
    backoffs: list[str] = []

    class Handler(TransferHandler):
        def _back_off(self, message: str) -> None:
            super()._back_off(message)
            backoffs.append(message)
            assert_sources_safe(tree)
            if len(backoffs) == clear_after:
                clear()

    services = session_services(tree.frames_root, tree.raw_root)
    result = run_handler(Handler, TASK, iterations=200, services=services, clock=ticking(),
                         config=fast_config(quiet_seconds=1, stop_after_idle=30))
    return result, backoffs


def assert_sources_safe(tree: Tree) -> None:
    """Every source file is still in frames, or verified in the destination's manifest."""
    manifest = tree.dest / MANIFEST_DIR / MANIFEST_NAME
    recorded = {}
    if manifest.exists():
        for line in manifest.read_text().splitlines():
            record = json.loads(line)
            if record["op"] == "copied":
                recorded[record["path"]] = record
    for rel, digest in tree.files.items():
        if not (tree.frames / rel).exists():
            assert rel in recorded and sha256(tree.dest / rel) == digest, rel
            assert matches_record(tree.dest / rel, recorded[rel]), rel
    if tree.dest.exists():
        assert not list(tree.dest.rglob(f"{TEMP_PREFIX}*")), "temp file left behind"


def assert_all_arrived(tree: Tree, result) -> None:  # type: ignore[no-untyped-def]
    assert result.last.get("done") == 1 and "error" not in result.last, result.last
    for rel, digest in tree.files.items():
        assert sha256(tree.dest / rel) == digest, rel
        assert (tree.frames / rel).exists() == (not rel.endswith("_fractions.tiff")), rel


def mount(*argv: str) -> None:
    done = subprocess.run(["mount", *argv], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"LOUD SKIP: cannot mount here ({done.stderr.strip()}); "
                    "the injected-error tests cover this case")


@pytest.fixture
def small_fs(tree: Tree) -> Iterator[Path]:
    mount("-t", "tmpfs", "-o", "size=3m", "tmpfs", str(tree.raw_root))
    try:
        yield tree.raw_root
    finally:
        subprocess.run(["umount", "-l", str(tree.raw_root)], check=False)


def test_destination_full_then_space_freed(tree: Tree, small_fs: Path) -> None:
    result, backoffs = run_with_fault(
        tree, 2, lambda: subprocess.run(["mount", "-o", "remount,size=64m", str(small_fs)],
                                        check=True))
    assert any("No space" in m for m in backoffs), backoffs
    errors = [e for e in result.events if "error" in e and "done" not in e]
    assert errors and all("destination problem" in e["error"] for e in errors)
    assert_all_arrived(tree, result)


def test_destination_read_only_then_writable(tree: Tree) -> None:
    mount("-t", "tmpfs", "-o", "size=64m,ro", "tmpfs", str(tree.raw_root))
    try:
        result, backoffs = run_with_fault(
            tree, 3, lambda: subprocess.run(["mount", "-o", "remount,rw", str(tree.raw_root)],
                                            check=True))
        assert any("Read-only" in m for m in backoffs), backoffs
        retries = [e["retry_in"] for e in result.events if "retry_in" in e]
        assert retries == sorted(retries) and retries[-1] > retries[0]  # backs off
        assert_all_arrived(tree, result)
    finally:
        subprocess.run(["umount", "-l", str(tree.raw_root)], check=False)


def test_destination_root_gone_is_not_recreated(tree: Tree) -> None:
    moved = tree.root / "raw-unmounted"
    tree.raw_root.rename(moved)
    result, backoffs = run_with_fault(tree, 2, lambda: moved.rename(tree.raw_root))
    assert any("missing" in m for m in backoffs), backoffs
    assert_all_arrived(tree, result)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EIO])
def test_injected_write_error(tree: Tree, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    real = copier._write_all
    state = {"failing": True}

    def write_all(fd: int, data: object) -> None:
        if state["failing"]:
            raise OSError(code, os.strerror(code))
        real(fd, data)  # type: ignore[arg-type]
    monkeypatch.setattr(copier, "_write_all", write_all)
    result, backoffs = run_with_fault(tree, 2, lambda: state.update(failing=False))
    assert len(backoffs) >= 2 and os.strerror(code) in backoffs[0]
    assert_all_arrived(tree, result)


def test_corrupt_copy_is_not_trusted(tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    state = {"corrupt": True}
    real = copier.file_digest

    def bad_hash(fd: int, algorithm: str, buf: bytearray) -> tuple[str, int]:
        digest, size = real(fd, algorithm, buf)
        return ("0" * 64 if state["corrupt"] else digest), size
    monkeypatch.setattr(copier, "file_digest", bad_hash)  # the read-back of every file
    result, backoffs = run_with_fault(tree, 1, lambda: state.update(corrupt=False))
    assert "checksum differs" in backoffs[0]
    assert_all_arrived(tree, result)
