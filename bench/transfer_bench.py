"""session-transfer against the tools a facility would use, every method in one loop.

Every ratio of issue 23's table, from one interleaved run (*baseline time / our time*:
above 1 we are faster). Parts:

* ``large``: movies of random data (default 12 x 136 MB = 1.6 GB, not sparse), moved;
* ``small``: thousands of xml/jpg files (default 3000, 76 MB), copied;
* ``scale``: tiny files, once at ``--small`` and once at ``--scale-files`` (default 100k),
  to show the per-file cost stays flat (the old engine was quadratic).

Fair treatment, for every method alike, in one loop with no pauses between methods:
a fresh source copy is made (untimed; a move empties it), the page cache is dropped
(``sync; echo 3 > /proc/sys/vm/drop_caches``), then the timing covers the method *and a
final* ``sync``. Start-up is subtracted: each method also runs on an empty session in
every round, and that time is taken off. Ratios are taken per round and reported as the
median with the spread (min-max) over rounds.

* ``ours``         the plugin's ``transfer`` task run through the core's own loop
                   (``run_task``) with the default configuration (``[worker]
                   min_interval = 5``; BLAKE3, every movie fsync'd and read back from
                   storage, small files one ``syncfs`` per group and read back) except
                   ``quiet_seconds = 0`` and ``stop_after_idle = 0``: the task ends when
                   the session is moved;
* ``ours-size``    the same with ``verify = "size"`` (no read-back);
* the baselines of :mod:`transfer_baselines`: ``script`` (b3sum, cp -r, sync, caches
  dropped, b3sum -c, movies unlinked), ``rsync move`` (movies) / ``rsync -a`` (small),
  ``cp+rm``, ``cp -r``, ``floor`` (cp -r + read-back from storage).

Usage::

    .venv/bin/python bench/transfer_bench.py [--movies 12] [--movie-mb 136] [--small 3000]
        [--scale-files 100000] [--repeat 3] [--parts large,small,scale]
        [--profile small] [--workdir /var/tmp/transfer-bench]

``--profile PART`` runs ``ours`` once more on that part under cProfile and prints the top
functions by cumulative time. Needs ``b3sum`` and ``rsync`` (``scripts/system-deps.sh``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emworker_session_transfer.handler import TransferHandler

from emhub_worker_core.contract.handler import DEFAULT_MIN_INTERVAL
from emhub_worker_core.testing import run_handler

sys.path.insert(0, str(Path(__file__).parent))
from transfer_baselines import (  # noqa: E402
    MOVIE_SUFFIX,
    Method,
    cp_r,
    cp_read_back,
    cp_rm,
    drop_caches,
    fresh_workdir,
    rsync_a,
    rsync_move,
    script,
    session_dirs,
)


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


def ours(**settings: object) -> Method:
    """The ``transfer`` task through the core's loop, waits and default floor included."""
    def run(src: Path, dst: Path) -> None:
        config = {"quiet_seconds": 0, "stop_after_idle": 0, "frames_root": str(src.parent),
                  "raw_root": str(dst.parent), **settings}
        with tempfile.TemporaryDirectory(dir=dst.parent.parent) as state:  # as the host
            outcome = run_handler(TransferHandler, {"name": "session-transfer", "args": {
                "frames": str(src), "raw": str(dst)}}, iterations=None, wait=True,
                min_interval=DEFAULT_MIN_INTERVAL, config=config, state_dir=Path(state))
        last = outcome.last
        if outcome.outcome.value != "done" or "error" in last:
            raise RuntimeError(f"transfer incomplete: {outcome.outcome} {last}")
    return run


# Per part: the methods of its row of the table, and the ratios printed (ours, baseline).
PARTS: dict[str, dict[str, Method]] = {
    "large": {"ours": ours(), "ours-size": ours(verify="size"), "script": script,
              "rsync move": rsync_move, "cp+rm": cp_rm, "cp -r": cp_r, "floor": cp_read_back},
    "small": {"ours": ours(), "ours-size": ours(verify="size"), "script": script,
              "rsync -a": rsync_a, "cp -r": cp_r, "floor": cp_read_back},
    "tiny": {"ours": ours(), "cp -r": cp_r},
}
RATIOS: dict[str, list[tuple[str, str]]] = {
    "large": [("ours", "script"), ("ours", "rsync move"), ("ours", "cp -r"),
              ("ours", "floor"), ("floor", "cp -r"), ("ours-size", "cp+rm")],
    "small": [("ours", "script"), ("ours", "rsync -a"), ("ours", "cp -r"), ("ours", "floor"),
              ("floor", "cp -r"), ("ours-size", "cp -r"), ("ours-size", "rsync -a")],
}

def timed(method: Method, part: Path, work: Path) -> float:
    """Seconds for one run, final sync included; the same preparation for every method."""
    src, dst = session_dirs(work)
    subprocess.run(["cp", "-a", str(part), str(src)], check=True)
    drop_caches()
    start = time.perf_counter()
    method(src, dst)
    subprocess.run(["sync"], check=True)
    seconds = time.perf_counter() - start
    shutil.rmtree(dst)
    shutil.rmtree(src, ignore_errors=True)  # ours removes an emptied frames folder
    return seconds


Runs = dict[str, dict[str, list[float]]]  # part -> method -> seconds per round


def measure(parts: dict[str, tuple[Path, dict[str, Method]]], work: Path,
            repeat: int) -> Runs:
    """Seconds per round minus the median empty-session time, per part and method.

    Each round runs every method once on every part it belongs to, methods one after
    the other with no pauses, so load on the machine falls on all of them alike."""
    methods = {name: m for _path, ms in parts.values() for name, m in ms.items()}
    raw: Runs = {p: {m: [] for m in ms} for p, (_path, ms) in parts.items()}
    empty: dict[str, list[float]] = {m: [] for m in methods}
    for _round in range(repeat):
        for name, method in methods.items():
            empty[name].append(timed(method, work / "empty", work))
            for part, (path, ms) in parts.items():
                if name in ms:
                    raw[part][name].append(timed(method, path, work))
    start_up = {m: statistics.median(empty[m]) for m in methods}
    return {part: {m: [max(1e-6, t - start_up[m]) for t in times]
                   for m, times in by_method.items()} for part, by_method in raw.items()}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def ratio(runs: dict[str, list[float]], ours_name: str, baseline: str) -> list[float]:
    """baseline time / our time, per round (above 1: we are faster)."""
    return [b / o for o, b in zip(runs[ours_name], runs[baseline])]


def size_and_count(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def report(title: str, part: Path, runs: dict[str, list[float]]) -> None:
    size, count = size_and_count(part)
    print(f"\n{title}: {count} files, {size / 1e6:.0f} MB "
          "(seconds include a final sync; start-up subtracted; median, min-max)")
    print(f"{'method':<14}{'seconds':>9}{'min-max':>14}{'MB/s':>8}{'ms/file':>9}")
    for method, times in runs.items():
        seconds = statistics.median(times)
        print(f"{method:<14}{seconds:>9.2f}{f'{min(times):.2f}-{max(times):.2f}':>14}"
              f"{size / 1e6 / seconds:>8.1f}{seconds * 1000 / count:>9.3f}")


def profile(part: Path, work: Path) -> None:
    src, dst = session_dirs(work)
    subprocess.run(["cp", "-a", str(part), str(src)], check=True)
    drop_caches()
    profiler = cProfile.Profile()
    profiler.enable()
    ours()(src, dst)
    profiler.disable()
    shutil.rmtree(dst)
    shutil.rmtree(src, ignore_errors=True)
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
    work = fresh_workdir(args.workdir)
    parts: dict[str, tuple[Path, dict[str, Method]]] = {}
    if "large" in wanted:
        build_large(work / "large", args.movies, args.movie_mb)
        parts["large"] = (work / "large", PARTS["large"])
    if "small" in wanted:
        build_small(work / "small", args.small)
        parts["small"] = (work / "small", PARTS["small"])
    if "scale" in wanted:
        for n in (args.small, args.scale_files):
            build_small(work / f"tiny-{n}", n, sizes=(1000, 3000))
            parts[f"tiny-{n}"] = (work / f"tiny-{n}", PARTS["tiny"])
    cold = drop_caches()
    print(f"{'cold' if cold else 'WARM (cannot drop caches)'} cache before every run; "
          f"{args.repeat} rounds; {os.cpu_count()} CPUs; every method of every part "
          "once per round, one after the other")
    runs = measure(parts, work, args.repeat)
    for name, (path, _methods) in parts.items():
        report(name, path, runs[name])
    print("\nratios, baseline time / our time (above 1: we are faster), median (min-max):")
    for name in ("large", "small"):
        for ours_name, baseline in RATIOS[name] if name in runs else ():
            print(f"  {name:<6} {ours_name:<10} vs {baseline:<11} "
                  f"{spread(ratio(runs[name], ours_name, baseline))}")
    if "scale" in wanted:
        small, big = f"tiny-{args.small}", f"tiny-{args.scale_files}"
        for method in PARTS["tiny"]:
            growth = [(b / args.scale_files) / (s / args.small)
                      for s, b in zip(runs[small][method], runs[big][method])]
            per_small = statistics.median(runs[small][method]) / args.small
            per_big = statistics.median(runs[big][method]) / args.scale_files
            print(f"  time per file, {args.scale_files} files against {args.small}, "
                  f"{method}: {per_small * 1e3:.3f} -> {per_big * 1e3:.3f} ms "
                  f"{spread(growth)}")
    if args.profile:
        profile(parts[args.profile][0], work)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
