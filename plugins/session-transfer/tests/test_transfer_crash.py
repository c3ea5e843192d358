"""Crash safety: a real worker process killed with SIGKILL mid-transfer, then restarted."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from emworker_session_transfer.copier import TEMP_PREFIX
from emworker_session_transfer.manifest import MANIFEST_DIR, MANIFEST_NAME
from emworker_session_transfer.testkit import make_session, matches_record, sha256


def write_run_files(tmp: Path, frames: Path, dest: Path, delay: float) -> tuple[Path, Path]:
    tasks = tmp / "tasks.toml"
    tasks.write_text(f'[[tasks]]\nname = "session-transfer"\nid = "crash-1"\n'
                     f'args = {{ frames = "{frames}", raw = "{dest}" }}\n')
    config = tmp / f"config-{delay}.toml"
    config.write_text(
        "[worker]\nname = \"crash.test\"\n"
        f"state_dir = \"{tmp / 'state'}\"\n\n"
        "[plugins.session-transfer]\n"
        f"frames_root = \"{frames.parent}\"\nraw_root = \"{dest.parent}\"\n"
        "quiet_seconds = 0\nperiod = 0.2\nstop_after_idle = 2\nworkers = 2\nbatch = 2\n"
        "chunk_kib = 256\n")
    return tasks, config


def start_worker(tasks: Path, config: Path, events: Path, delay: float = 0.0
                 ) -> subprocess.Popen[bytes]:
    """``emworker run --local`` through the test kit, which can slow every copied chunk."""
    with open(events.with_suffix(".log"), "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "emworker_session_transfer.testkit",
                                 "--chunk-delay", str(delay), "--", "--config",
                                 str(config), "run", "--local", str(tasks), "--events",
                                 str(events)], cwd=events.parent, stdout=log, stderr=log)


def copied_records(dest: Path) -> list[dict]:  # type: ignore[type-arg]
    manifest = dest / MANIFEST_DIR / MANIFEST_NAME
    if not manifest.exists():
        return []
    records = []
    for line in manifest.read_bytes().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line torn by the kill; it counts for nothing
    return [r for r in records if r.get("op") == "copied"]


def assert_nothing_lost(frames: Path, dest: Path, files: dict[str, str]) -> None:
    recorded = {r["path"]: r for r in copied_records(dest)}
    for rel, digest in files.items():
        if not (frames / rel).exists():
            assert rel in recorded, f"{rel} left the source unrecorded"
            assert sha256(dest / rel) == digest, f"{rel} removed but its copy differs"
            assert matches_record(dest / rel, recorded[rel]), f"{rel}: record differs"
        else:
            assert sha256(frames / rel) == digest, f"source {rel} was altered"


def test_sigkill_mid_transfer_then_restart(tmp_path: Path) -> None:
    frames = tmp_path / "frames" / "S00301_grid1"
    dest = tmp_path / "raw" / "session"
    (tmp_path / "raw").mkdir()
    files = make_session(frames, movies=3, movie_size=8 << 20)
    tasks, slow = write_run_files(tmp_path, frames, dest, delay=0.02)
    _, fast = write_run_files(tmp_path, frames, dest, delay=0.0)

    worker = start_worker(tasks, slow, tmp_path / "events-1.jsonl", delay=0.02)
    try:
        deadline = time.monotonic() + 120  # only so a broken worker cannot hang the suite
        while True:  # kill while a copy is half written, after some files were recorded
            mid_copy = dest.exists() and any(dest.rglob(f"{TEMP_PREFIX}*"))
            if mid_copy and len(copied_records(dest)) >= 3:
                break
            assert worker.poll() is None, (tmp_path / "events-1.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.005)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait()
    assert worker.returncode == -signal.SIGKILL
    before_restart = collections.Counter(r["path"] for r in copied_records(dest))
    assert 3 <= sum(before_restart.values()) < len(files)
    assert_nothing_lost(frames, dest, files)

    second = start_worker(tasks, fast, tmp_path / "events-2.jsonl")
    second.wait(timeout=300)
    assert second.returncode == 0, (tmp_path / "events-2.log").read_text()[-3000:]

    for rel, digest in files.items():  # every byte arrived
        assert sha256(dest / rel) == digest, rel
        assert (frames / rel).exists() == (not rel.endswith("_fractions.tiff")), rel
    assert not list(dest.rglob(f"{TEMP_PREFIX}*")), "temporary files left"
    counts = collections.Counter(r["path"] for r in copied_records(dest))
    assert set(counts) == set(files)
    assert max(counts.values()) == 1, "a verified file was copied again"
    events = [json.loads(x)["event"] for x in (tmp_path / "events-2.jsonl").read_text()
              .splitlines()]
    final = events[-1]
    assert final["done"] == 1 and "error" not in final
    assert int(final["files_total"]) == len(files)
