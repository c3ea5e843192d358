"""Build the demo of ``scripts/demo.sh``: a small EPU-like frames folder, a config, tasks.

Everything goes under the folder given (default ``.demo``), which is emptied first, so
the demo can be run again and again.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

MOVIE_BYTES = 4 * 1024 * 1024  # small, real (non-sparse) movies: the transfer hashes them


def build_session(frames: Path, name: str, squares: int, holes: int) -> None:
    session = frames / name
    session.mkdir(parents=True)
    (session / "EpuSession.dm").write_bytes(b"<EpuSession/>" * 100)
    for square in range(1, squares + 1):
        data = session / "Images-Disc1" / f"GridSquare_{square:08d}" / "Data"
        data.mkdir(parents=True)
        for hole in range(1, holes + 1):
            stem = f"FoilHole_{square}{hole:04d}_Data_1_1_20261128_1200{hole:02d}"
            (data / f"{stem}.xml").write_text(f"<MicroscopeImage id='{hole}'/>\n")
            (data / f"{stem}.jpg").write_bytes(os.urandom(8 * 1024))
            (data / f"{stem}_fractions.tiff").write_bytes(os.urandom(MOVIE_BYTES))


def main(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
    frames, offload = root / "frames", root / "offload"
    build_session(frames, "S00001_demo", squares=2, holes=3)
    build_session(frames, "S00002_other", squares=1, holes=2)
    (frames / "README_frames.txt").write_text("loose file at the top of the frames root\n")
    offload.mkdir(parents=True)
    (root / "config.toml").write_text(f"""\
# Demo configuration: short periods so the whole demo takes seconds.
[worker]
min_interval = 0.5  # the admin's floor on every handler's waits (default 5 s)

[plugins.frames-monitor]
root = "{frames}"   # a task may scan this folder (and below) without allowed_roots
min_period = 0
period = 0.5

[plugins.session-transfer]
frames_root = "{frames}"
raw_root = "{offload}"
quiet_seconds = 0.5
period = 0.5
stop_after_idle = 2
""")
    (root / "tasks.toml").write_text(f"""\
# Demo tasks: run with `emworker --config .demo/config.toml run --local .demo/tasks.toml`.
[[tasks]]
id = "demo-frames"
name = "frames-monitor"
args = {{ root = "{frames}" }}

[[tasks]]
id = "demo-transfer"
name = "session-transfer"
args = {{ frames = "{frames / 'S00001_demo'}", raw = "{offload / 'S00001_demo'}" }}

[[tasks]]
id = "demo-echo"
name = "echo"
args = {{ message = "hello from emworker", repeat = 2, interval = 0.5 }}
""")
    print(f"demo folder ready: {root}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".demo").resolve())
