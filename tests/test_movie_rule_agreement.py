"""frames-monitor, session-transfer and session-otf count the same movies on the same tree.

EMhub's frames page (frames-monitor), the session's ``extra.raw`` and what is moved
(session-transfer) and what is fed to the workflow (session-otf) once disagreed: three
definitions of a movie. Each plugin here runs its own code on one EPU-like tree with every
kind of file that ends like a movie and is not one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from emhub_worker_core.testing import FakeClock, FakeEMhub, run_handler

pytest.importorskip("emworker_frames_monitor")
pytest.importorskip("emworker_session_transfer")
pytest.importorskip("emworker_session_otf")

from emworker_frames_monitor.handler import FramesMonitorHandler  # noqa: E402
from emworker_session_otf.feed import SettledMovies  # noqa: E402
from emworker_session_otf.settings import OtfSettings  # noqa: E402
from emworker_session_transfer.handler import TransferHandler  # noqa: E402

DATA = "Images-Disc1/GridSquare_1/Data"
MOVIES = [f"{DATA}/FoilHole_1_Data_2_20240301_102001_fractions.tiff",   # EPU TIFF
          f"{DATA}/FoilHole_2_Data_2_20240301_102002_fractions.tiff",
          f"{DATA}/FoilHole_3_Data_2_20240301_102003_EER.eer",          # EPU EER
          f"{DATA}/FoilHole_4_Data_2_20240301_102004_Fractions.mrc",    # Falcon MRC
          f"{DATA}/FoilHole_5_Data_2_20240301_102005.mrcs"]
OTHERS = ["EpuSession.dm", f"{DATA}/FoilHole_1_Data_2_20240301_102001.jpg",
          f"{DATA}/FoilHole_1_Data_2_20240301_102001.xml",
          "Krios01_gain_20240301.mrc",                        # gain references
          "20240301_102000_EER_GainReference.gain", "Krios01_Gain.eer",
          "Metadata/Atlas_1.mrc", "grid_overview.tif",         # other .mrc/.tif files
          "Images-Disc1/GridSquare_1/GridSquare_20240301.tiff",
          f"{DATA}/.FoilHole_6_Data_2_20240301_102006_fractions.tiff.AbC123"]  # EPU temp
SESSION = "S00301_grid1"


class Ticking(FakeClock):
    def __call__(self) -> float:
        self.advance(0.5)
        return self.now


@pytest.fixture
def frames_root(tmp_path: Path) -> Path:
    root = tmp_path / "frames"
    for rel in MOVIES + OTHERS:
        path = root / SESSION / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode() * 100)
        os.utime(path, (1_700_000_000, 1_700_000_000))
    (tmp_path / "raw").mkdir()
    return root


def frames_monitor_count(frames_root: Path) -> int:
    result = run_handler(FramesMonitorHandler, {"name": "frames"}, iterations=1,
                         config={"root": str(frames_root)})
    entries = json.loads(result.events[-1]["entries"])
    (session,) = [e for e in entries if e["name"] == SESSION]
    return int(session["movies"])


def session_transfer_counts(frames_root: Path) -> tuple[int, int, Path]:
    """(movies in ``extra.raw``, movies moved off the share, the raw folder)."""
    raw_root = frames_root.parent / "raw"
    services = FakeEMhub(
        configs={"sessions": {"raw": {"root_frames": str(frames_root), "root": str(raw_root)}}},
        sessions=[{"id": 301, "name": f"20240301Krios01:{SESSION}",
                   "start": "2024-03-01T10:00:00", "resource_id": 1, "extra": {"raw": {}}}],
        users={301: {"owner": {"email": "jane.doe@inst.org"}, "group": "doegrp"}},
        resources=[{"id": 1, "name": "Krios01"}])
    result = run_handler(TransferHandler, {"name": "session", "args": {
        "action": "transfer", "session_id": 301}}, iterations=None, services=services,
        clock=Ticking(), config={"quiet_seconds": 1, "stop_after_idle": 30, "workers": 2})
    assert result.last["done"] == 1 and "error" not in result.last, result.last
    raw: dict[str, Any] = services.sessions[301]["extra"]
    moved = sum(1 for rel in MOVIES + OTHERS if not (frames_root / SESSION / rel).exists())
    return int(raw["raw"]["movies"]), moved, Path(raw["raw"]["path"])


def session_otf_count(raw_folder: Path) -> int:
    clock = Ticking()
    movies = SettledMovies(raw_folder, OtfSettings().is_movie, 0.0, clock)
    movies.scan()   # first sight
    movies.scan()   # unchanged since: settled
    return len(movies.settled)


def test_the_three_plugins_count_the_same_movies(frames_root: Path) -> None:
    assert frames_monitor_count(frames_root) == len(MOVIES)
    in_extra_raw, moved, raw_folder = session_transfer_counts(frames_root)
    assert (in_extra_raw, moved) == (len(MOVIES), len(MOVIES))
    assert all(not (frames_root / SESSION / rel).exists() for rel in MOVIES)
    assert session_otf_count(raw_folder) == len(MOVIES)
