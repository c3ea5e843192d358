"""session-transfer throughput against named baselines, on one synthetic session tree.

The tree has a large-file part (movies of random data, not sparse) and a small-file part
(thousands of xml/jpg). For each part, in the same run, each method copies it to an empty
destination on the same filesystem; page caches are dropped before every timed run (when
allowed) and every timing ends with ``sync``, so each method pays for getting its data to
disk (ours fsyncs itself). Methods:

* ``cp -r``           coreutils, no checksum
* ``rsync -a``        one process, no checksum
* ``original``        the original worker: one ``rsync -ac --remove-source-files`` process
                      per movie, one ``cp`` per other file, one ``mkdir -p`` per folder
* ``ours``            the plugin's engine, default settings: sha256 while copying, fsync,
                      re-read and re-hash of the written file (``verify = "reread"``)
* ``ours-storage``    ``verify = "storage"``: the re-read bypasses the page cache
* ``ours-size``       ``verify = "size"``: checksum recorded, no re-read

Figures are medians over ``--repeat`` runs; ratios are MB/s over ``cp -r``'s MB/s and
``original``'s. Usage (needs rsync: ``apt-get install -y rsync``)::

    .venv/bin/python bench/transfer_bench.py [--movies 12] [--movie-mb 256] [--small 3000]
        [--repeat 3] [--workdir /var/tmp/transfer-bench]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from emworker_session_transfer.engine import SessionTransfer
from emworker_session_transfer.settings import TransferSettings

MOVIE_SUFFIX = "_fractions.tiff"


def build_tree(root: Path, movies: int, movie_mb: int, small: int) -> None:
    """``large/``: movies of random bytes; ``small/``: xml (11 KB) and jpg (40 KB) pairs."""
    block = os.urandom(64 << 20)
    large = root / "large" / "Images-Disc1" / "GridSquare_1" / "Data"
    large.mkdir(parents=True)
    for i in range(movies):
        with open(large / f"FoilHole_{i:08d}_Data_1_1_20240301_1020{i:02d}{MOVIE_SUFFIX}",
                  "wb") as fh:
            left, offset = movie_mb << 20, i * 4096
            while left:
                part = block[offset:offset + min(left, 16 << 20)] or block[:min(left, 16 << 20)]
                fh.write(part)
                left -= len(part)
                offset = (offset + len(part)) % (48 << 20)
    for i in range(small // 2):
        folder = root / "small" / "Images-Disc1" / f"GridSquare_{i // 500}" / "Data"
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"FoilHole_{i:08d}_Data_1_1_20240301_102000"
        stem.with_suffix(".xml").write_bytes(block[i * 11000:(i + 1) * 11000])
        stem.with_suffix(".jpg").write_bytes(block[i * 40000:(i + 1) * 40000])


def drop_caches() -> bool:
    subprocess.run(["sync"], check=True)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def cp_r(src: Path, dst: Path) -> None:
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)


def rsync_a(src: Path, dst: Path) -> None:
    subprocess.run(["rsync", "-a", f"{src}/", f"{dst}/"], check=True)


def original(src: Path, dst: Path) -> None:
    """One process per file, as the original worker ran them (argv lists, no shell)."""
    for folder, _dirs, names in os.walk(src):
        target = dst / os.path.relpath(folder, src)
        if not target.exists():
            subprocess.run(["mkdir", "-p", str(target)], check=True)
        for name in names:
            if name.startswith("FoilHole_") and name.endswith(MOVIE_SUFFIX):
                argv = ["rsync", "-ac", "--remove-source-files"]
            else:
                argv = ["cp"]
            subprocess.run([*argv, os.path.join(folder, name), str(target / name)], check=True)


def ours(verify: str) -> Callable[[Path, Path], None]:
    def run(src: Path, dst: Path) -> None:
        settings = TransferSettings(quiet_seconds=0, verify=verify)  # defaults otherwise
        engine = SessionTransfer(src, dst, dst.parent, settings, time.monotonic,
                                 logging.getLogger("bench"))
        try:
            engine.open()
            engine.scan()  # first sighting; quiet_seconds=0 settles on the second
            ready, pending = engine.scan()
            result = engine.transfer(ready, lambda files, movies: None)
            if result.errors or pending:
                raise RuntimeError(f"transfer incomplete: {result.errors} pending={pending}")
        finally:
            engine.close()
    return run


METHODS: dict[str, Callable[[Path, Path], None]] = {
    "cp -r": cp_r, "rsync -a": rsync_a, "original": original,
    "ours": ours("reread"), "ours-storage": ours("storage"), "ours-size": ours("size"),
}
# These move movies out of their source: they run on a fresh copy of it.
DESTRUCTIVE = {"original", "ours", "ours-storage", "ours-size"}


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def time_method(method: str, part: Path, work: Path) -> tuple[float, float]:
    """(seconds until the method returned, seconds including sync) for one run."""
    src = part
    if method in DESTRUCTIVE:
        src = work / "src-copy"
        subprocess.run(["cp", "-a", str(part), str(src)], check=True)
    dst = work / "dst"
    dst.parent.mkdir(parents=True, exist_ok=True)
    drop_caches()
    start = time.perf_counter()
    METHODS[method](src, dst)
    returned = time.perf_counter() - start
    subprocess.run(["sync"], check=True)
    synced = time.perf_counter() - start
    shutil.rmtree(dst)
    if src != part:
        shutil.rmtree(src)
    return returned, synced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--movies", type=int, default=12)
    parser.add_argument("--movie-mb", type=int, default=256)
    parser.add_argument("--small", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/transfer-bench"))
    args = parser.parse_args()
    if not shutil.which("rsync"):
        sys.exit("rsync is needed: apt-get install -y rsync")
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    build_tree(work / "tree", args.movies, args.movie_mb, args.small)
    cold = drop_caches()
    print(f"tree: {args.movies} x {args.movie_mb} MB movies, {args.small} small files; "
          f"{'cold' if cold else 'WARM (cannot drop caches)'} cache per run; "
          f"median of {args.repeat}; {os.cpu_count()} CPUs")
    for part_name in ("large", "small"):
        part = work / "tree" / part_name
        megabytes = size_of(part) / 1e6
        files = sum(1 for p in part.rglob("*") if p.is_file())
        results: dict[str, tuple[float, float]] = {}
        for method in METHODS:
            runs = [time_method(method, part, work) for _ in range(args.repeat)]
            results[method] = (statistics.median(r[0] for r in runs),
                               statistics.median(r[1] for r in runs))
        print(f"\n{part_name} files: {files} files, {megabytes:.0f} MB (time includes sync)")
        print(f"{'method':<15}{'seconds':>9}{'MB/s':>9}{'vs cp -r':>10}{'vs original':>13}"
              f"{'(no-sync s)':>13}")
        for method, (returned, synced) in results.items():
            print(f"{method:<15}{synced:>9.2f}{megabytes / synced:>9.1f}"
                  f"{results['cp -r'][1] / synced:>9.2f}x{results['original'][1] / synced:>12.2f}x"
                  f"{returned:>13.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
