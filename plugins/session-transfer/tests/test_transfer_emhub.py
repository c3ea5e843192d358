"""Integration: a ``session`` task with action ``transfer`` on the real EMhub server."""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from emworker_session_transfer.manifest import MANIFEST_DIR
from emworker_session_transfer.paths import session_date, short_name, user_folder
from emworker_session_transfer.testkit import make_session, sha256


@pytest.fixture
def session_frames(emhub_server) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """The session's frames folder; it and the raw tree are removed afterwards, since the
    roots are shared with other tests of the same server."""
    frames = emhub_server.frames_root / short_name(emhub_server.transfer_session["name"])
    try:
        yield frames
    finally:
        shutil.rmtree(frames, ignore_errors=True)
        shutil.rmtree(emhub_server.raw_root / emhub_server.transfer_session["group"],
                      ignore_errors=True)


@pytest.mark.emhub
def test_transfer_task_moves_files_and_fills_extra_raw(emhub_server, session_frames: Path,
                                                       tmp_path: Path) -> None:
    session = emhub_server.transfer_session
    frames = session_frames
    files = make_session(frames, movies=2, movie_size=1 << 20)
    config = emhub_server.worker_config(
        tmp_path / "worker.toml", "transfer.test",
        "[plugins.session-transfer]\nquiet_seconds = 1\nperiod = 1\nstop_after_idle = 4\n")
    admin = emhub_server.admin()
    task_id = admin.create_task("transfer.test", "session",
                                {"action": "transfer", "session_id": session["id"]})
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "emhub_worker_core", "--config",
                                   str(config), "run"], cwd=tmp_path, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 300  # only so a broken worker cannot hang the suite
        while admin.task_status("transfer.test", task_id) != "done":
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)

    start = session_date(session["start"])
    expected = (emhub_server.raw_root / session["group"] / session["resource"] /
                f"{start:%Y}" / "raw" / "EPU" / user_folder(session["owner_email"]) /
                f"{start:%Y%m%d}_{session['resource']}_{short_name(session['name'])}")
    raw = admin.get_session(session["id"])["extra"]["raw"]
    dest = Path(raw["path"])
    assert dest == expected.resolve()
    assert raw["frames"] == str(frames.resolve()) + "/"

    on_disk = {os.path.relpath(p, dest): p for p in dest.rglob("*")
               if p.is_file() and MANIFEST_DIR not in p.parts}
    assert {rel: sha256(p) for rel, p in on_disk.items()} == files
    for rel in files:
        assert (frames / rel).exists() == (not rel.endswith("_fractions.tiff")), rel

    per_ext: dict[str, dict[str, int]] = collections.defaultdict(lambda: {"count": 0, "size": 0})
    for p in on_disk.values():
        per_ext[p.suffix]["count"] += 1
        per_ext[p.suffix]["size"] += p.stat().st_size
    assert raw["files"] == dict(per_ext)
    assert raw["files_total"] == len(on_disk)
    assert raw["size"] == sum(p.stat().st_size for p in on_disk.values())
    assert raw["movies"] == sum(rel.endswith("_fractions.tiff") for rel in on_disk)
    assert raw["last_movie"] in on_disk and raw["first_file"] in on_disk
    assert raw["sizeH"].endswith("MB")

    history = admin.task_history(task_id)
    progress = [e for e in history if "new_files" in e]
    assert sum(int(e["new_files"]) for e in progress) == len(files)
    assert history[-1]["done"] == "1" and "error" not in history[-1]
    assert int(history[-1]["files_total"]) == len(files)
