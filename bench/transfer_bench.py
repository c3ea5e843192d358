"""session-transfer throughput against ``cp -r``, every method interleaved in one loop.

Three parts, each printed as a ratio to ``cp -r`` measured in the same run:

* ``large``: movies of random data (default 12 x 136 MB = 1.6 GB, not sparse);
* ``small``: thousands of xml/jpg files (default 3000, 76 MB);
* ``scale``: tiny files, once at ``--small`` and once at ``--scale-files`` (default 100k),
  to show the per-file cost stays flat (the old engine was quadratic).

Fair treatment, for every method alike, in one loop with no pauses between methods:
a fresh source copy is made (untimed; ours moves movies out of it), the page cache is
dropped (``sync; echo 3 > /proc/sys/vm/drop_caches``), then the timing covers the method
*and a final* ``sync``. Start-up is subtracted: each method also runs on an empty
session in every round, and that time is taken off. Methods:

* ``cp -r``        coreutils, no checksum (the baseline);
* ``ours``         the plugin's engine with its default settings: BLAKE3 while copying,
                   fsync (movies) or one ``syncfs`` per group (small files), and the
                   written bytes read back *from storage* (pages dropped) and re-hashed;
                   nothing is counted before it is durable;
* ``ours-sha256``  the same with ``checksum = "sha256"`` (the former default).

Usage::

    .venv/bin/python bench/transfer_bench.py [--movies 12] [--movie-mb 136] [--small 3000]
        [--scale-files 100000] [--repeat 3] [--parts large,small,scale]
        [--profile small] [--workdir /var/tmp/transfer-bench]

``--profile PART`` runs ``ours`` once more on that part under cProfile and prints the top
functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Callable

from emworker_session_transfer.engine import SessionTransfer
from emworker_session_transfer.settings import TransferSettings

MOVIE_SUFFIX = "_fractions.tiff"
Method = Callable[[Path, Path], None]


def build_large(root: Path, movies: int, movie_mb: int) -> None:
    block = os.urandom(64 << 20)
    folder = root / "Images-Disc1" / "GridSquare_1" / "Data"
    folder.mkdir(parents=True)
    for i in range(movies):
        with open(folder / f"FoilHole_{i:08d}_Data_1_1_20240301_1020{i:02d}{MOVIE_SUFFIX}",
                  "wb") as fh:
            left, offset = movie_mb << 20, i * 4096
            while left:
                part = block[offset:offset + min(left, 16 << 20)] or block[:min(left, 16 << 20)]
                fh.write(part)
                left -= len(part)
                offset = (offset + len(part)) % (48 << 20)


def build_small(root: Path, files: int, sizes: tuple[int, int] = (11000, 40000)) -> None:
    """xml/jpg pairs in GridSquare folders of 500 files, as EPU lays them out."""
    block = os.urandom(max(sizes) * 64)
    for i in range(files // 2):
        folder = root / "Images-Disc1" / f"GridSquare_{i // 250}" / "Data"
        if i % 250 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"FoilHole_{i:08d}_Data_1_1_20240301_102000"
        start = (i * 7919) % (len(block) - max(sizes))
        stem.with_suffix(".xml").write_bytes(block[start:start + sizes[0]])
        stem.with_suffix(".jpg").write_bytes(block[start:start + sizes[1]])


def drop_caches() -> bool:
    subprocess.run(["sync"], check=True)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def cp_r(src: Path, dst: Path) -> None:
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)


def ours(**settings: object) -> Method:
    def run(src: Path, dst: Path) -> None:
        config = TransferSettings.from_config({"quiet_seconds": 0, **settings})
        engine = SessionTransfer(src, dst, dst.parent, config, time.monotonic,
                                 logging.getLogger("bench"))
        try:
            engine.open()
            engine.scan()  # first sighting; quiet_seconds=0 settles on the second
            ready, pending = engine.scan()
            result = engine.transfer(ready, lambda files, movies: None)
            if result.errors or result.source_problems or pending:
                raise RuntimeError(f"transfer incomplete: {result.errors} "
                                   f"{result.source_problems} pending={pending}")
        finally:
            engine.close()
    return run


METHODS: dict[str, Method] = {"cp -r": cp_r, "ours": ours(),
                              "ours-sha256": ours(checksum="sha256")}


def timed(method: str, part: Path, work: Path) -> float:
    """Seconds for one run, final sync included; the same preparation for every method."""
    src, dst = work / "src", work / "dst"
    subprocess.run(["cp", "-a", str(part), str(src)], check=True)
    drop_caches()
    start = time.perf_counter()
    METHODS[method](src, dst)
    subprocess.run(["sync"], check=True)
    seconds = time.perf_counter() - start
    shutil.rmtree(dst)
    shutil.rmtree(src)
    return seconds


def measure(parts: dict[str, Path], work: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Median seconds minus the median empty-session time, per part and method."""
    runs: dict[str, dict[str, list[float]]] = {p: {m: [] for m in METHODS} for p in parts}
    empty: dict[str, list[float]] = {m: [] for m in METHODS}
    for _round in range(repeat):
        for method in METHODS:  # interleaved: every method once per round, no pauses
            empty[method].append(timed(method, work / "empty", work))
            for name, part in parts.items():
                runs[name][method].append(timed(method, part, work))
    start_up = {m: statistics.median(empty[m]) for m in METHODS}
    return {name: {m: max(1e-6, statistics.median(runs[name][m]) - start_up[m])
                   for m in METHODS} for name in parts}


def size_and_count(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def report(title: str, part: Path, results: dict[str, float]) -> None:
    size, count = size_and_count(part)
    print(f"\n{title}: {count} files, {size / 1e6:.0f} MB "
          "(seconds include a final sync; start-up subtracted)")
    print(f"{'method':<14}{'seconds':>9}{'MB/s':>9}{'ms/file':>9}{'vs cp -r':>10}")
    for method, seconds in results.items():
        print(f"{method:<14}{seconds:>9.2f}{size / 1e6 / seconds:>9.1f}"
              f"{seconds * 1000 / count:>9.3f}{results['cp -r'] / seconds:>9.2f}x")


def profile(part: Path, work: Path) -> None:
    src, dst = work / "src", work / "dst"
    subprocess.run(["cp", "-a", str(part), str(src)], check=True)
    drop_caches()
    profiler = cProfile.Profile()
    profiler.enable()
    METHODS["ours"](src, dst)
    profiler.disable()
    shutil.rmtree(dst)
    shutil.rmtree(src)
    print(f"\ncProfile of ours on {part.name} (task thread; top 15 by cumulative time):")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--movies", type=int, default=12)
    parser.add_argument("--movie-mb", type=int, default=136)
    parser.add_argument("--small", type=int, default=3000)
    parser.add_argument("--scale-files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parts", default="large,small,scale")
    parser.add_argument("--profile", default="")
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/transfer-bench"))
    args = parser.parse_args()
    wanted = set(args.parts.split(","))
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    (work / "empty").mkdir(parents=True)
    parts: dict[str, Path] = {}
    if "large" in wanted:
        build_large(work / "large", args.movies, args.movie_mb)
        parts["large"] = work / "large"
    if "small" in wanted:
        build_small(work / "small", args.small)
        parts["small"] = work / "small"
    if "scale" in wanted:
        for n in (args.small, args.scale_files):
            build_small(work / f"tiny-{n}", n, sizes=(1000, 3000))
            parts[f"tiny-{n}"] = work / f"tiny-{n}"
    cold = drop_caches()
    print(f"{'cold' if cold else 'WARM (cannot drop caches)'} cache before every run; "
          f"median of {args.repeat}; {os.cpu_count()} CPUs; methods interleaved per round")
    results = measure(parts, work, args.repeat)
    for name, part in parts.items():
        report(name, part, results[name])
    print("\nratios (ours / cp -r throughput):")
    for name in ("large", "small"):
        if name in results:
            print(f"  {name:<6} {results[name]['cp -r'] / results[name]['ours']:.2f}x cp")
    if "scale" in wanted:
        small, big = f"tiny-{args.small}", f"tiny-{args.scale_files}"
        for method in METHODS:
            per_small = results[small][method] / args.small
            per_big = results[big][method] / args.scale_files
            print(f"  per-file cost {args.small} -> {args.scale_files} files, {method}: "
                  f"{per_small * 1e3:.3f} -> {per_big * 1e3:.3f} ms ({per_big / per_small:.2f}x)")
    if args.profile:
        profile(parts[args.profile], work)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
