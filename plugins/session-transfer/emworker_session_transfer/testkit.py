"""Test kit of the session-transfer plugin: a synthetic EPU session, a clock, a fake EMhub.

Used by the plugin's tests and by ``bench/transfer_bench.py``. Also a test entry point:
``python -m emworker_session_transfer.testkit [--chunk-delay S] -- <emworker args>`` runs
``emworker`` with a pause after every copied chunk (the crash test's wide window), which
production settings know nothing about."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

SHORT = "S00301_grid1"
SESSION_NAME = f"20240301Krios01:{SHORT}"
DEST_REL = f"doegrp/Krios01/2024/raw/EPU/jdoe/20240301_Krios01_{SHORT}"


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digest_of(path: Path, algorithm: str) -> str:
    """The checksum of ``path`` by the manifest's algorithm name (``blake3``/``sha256``)."""
    from .checksum import new_hasher

    hasher = new_hasher(algorithm)
    hasher.update(path.read_bytes())
    return hasher.hexdigest()


def recorded_digest(record: Mapping[str, Any]) -> tuple[str, str]:
    """(algorithm, digest) of a manifest ``copied`` record, old (sha256) or new format."""
    if "sha256" in record:
        return "sha256", str(record["sha256"])
    return str(record["algorithm"]), str(record["digest"])


def matches_record(path: Path, record: Mapping[str, Any]) -> bool:
    algorithm, digest = recorded_digest(record)
    return digest_of(path, algorithm) == digest


def on_each_chunk(hook: Optional[Callable[[str], None]]) -> None:
    """Call ``hook(relative path)`` after every chunk the copiers write (None: stop)."""
    from . import copier

    copier.after_chunk = hook


def slow_copies(delay: float) -> None:
    """Sleep ``delay`` seconds after every copied chunk: widens a crash window."""
    on_each_chunk((lambda _rel: time.sleep(delay)) if delay else None)


def write(path: Path, size: int, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = hashlib.sha256(f"{path.name}{seed}".encode()).digest() * 2048  # 64 KiB, not sparse
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            fh.write(block[:left])
            left -= len(block)


def make_session(frames: Path, *, movies: int = 3, movie_size: int = 2 << 20,
                 holes: int = 2) -> dict[str, str]:
    """An EPU-like session tree; returns relative path -> sha256 of every file."""
    write(frames / "EpuSession.dm", 50_000)
    for square in range(holes):
        base = frames / "Images-Disc1" / f"GridSquare_1234567{square}"
        write(base / f"GridSquare_2024030{square}_101512.jpg", 30_000)
        write(base / f"GridSquare_2024030{square}_101512.xml", 5_000)
        for movie in range(movies):
            stem = f"FoilHole_1235001{movie}_Data_1234000{square}_20240301_10200{movie}"
            write(base / "Data" / f"{stem}.xml", 11_000)
            write(base / "Data" / f"{stem}.jpg", 20_000)
            write(base / "Data" / f"{stem}_fractions.tiff", movie_size, seed=square)
    write(frames / "Krios01_gain_20240301.mrc", 300_000)
    return {str(p.relative_to(frames)): sha256(p) for p in frames.rglob("*") if p.is_file()}


def session_services(frames_root: Path, raw_root: Path, name: str = SESSION_NAME,
                     start: str = "2024-03-01T10:00:00", email: str = "jane.doe@inst.org"
                     ) -> Any:
    from emhub_worker_core.testing import FakeEMhub
    return FakeEMhub(
        configs={"sessions": {"raw": {"root_frames": str(frames_root), "root": str(raw_root)}}},
        sessions=[{"id": 301, "name": name, "start": start, "resource_id": 1,
                   "extra": {"raw": {}}}],
        users={301: {"owner": {"email": email, "name": "Jane Doe"}, "group": "doegrp"}},
        resources=[{"id": 1, "name": "Krios01"}])


@dataclass
class Tree:
    root: Path
    frames_root: Path
    raw_root: Path
    frames: Path
    dest: Path
    files: dict[str, str] = field(default_factory=dict)


def build_tree(tmp_path: Path) -> Tree:
    os.environ.setdefault("TZ", "UTC")
    frames_root, raw_root = tmp_path / "frames", tmp_path / "raw"
    frames_root.mkdir()
    raw_root.mkdir()
    frames = frames_root / SHORT
    files = make_session(frames)
    return Tree(tmp_path, frames_root, raw_root, frames, raw_root / DEST_REL, files)


def fast_config(**more: Any) -> dict[str, Any]:
    return {"quiet_seconds": 10, "period": 5, "stop_after_idle": 100, "retry_seconds": 1,
            "workers": 2, **more}


def main(argv: Sequence[str]) -> None:
    """``[--chunk-delay S] -- <emworker args>``: emworker with slow copies (tests only)."""
    args = list(argv)
    if args[:1] == ["--chunk-delay"]:
        slow_copies(float(args[1]))
        args = args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    from importlib.metadata import entry_points

    # the ``emworker`` command as installed (the core's CLI module is not plugin API)
    (command,) = [ep for ep in entry_points().select(group="console_scripts")
                  if ep.name == "emworker"]
    sys.argv = ["emworker", *args]
    command.load()()


if __name__ == "__main__":
    main(sys.argv[1:])
