"""Benchmark of the frames-monitor scanner against ``find`` and the original algorithm.

Run from the repository root (the plugin installed in .venv)::

    .venv/bin/python bench/frames_scan.py            # ~105,000 files, 5 runs each

It builds a synthetic EPU-like tree (bench/frames_tree.py), then reports medians of
``--runs`` runs and ratios, all measured in the same run on the same (warm-cache) tree:

* full scan (fresh scanner)       vs ``find ROOT -printf '%s\\n'``
* full scan                       vs the original algorithm (os.walk + exists + stat per file)
* rescan with nothing changed     vs full scan
* rescan after adding 500 movies vs full scan
* peak memory (tracemalloc) of a full scan, ours vs the original's per-file index.

Page caches cannot be dropped reliably here: every variant runs on a warm cache.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emworker_frames_monitor.movies import MovieRule  # noqa: E402
from emworker_frames_monitor.scanner import ScanResult, TreeScanner  # noqa: E402
from frames_tree import TreeInfo, add_movies, age_dirs, build_tree  # noqa: E402


def original_scan(root: str) -> dict[str, dict[str, Any]]:
    """The original handler's first pass (MovieFiles.scan per top-level folder), as baseline:
    os.walk, then os.path.exists + os.stat per file, indexed by relative path."""
    result: dict[str, dict[str, Any]] = {}
    for name in os.listdir(root):
        folder = os.path.join(root, name)
        st = os.stat(folder)
        if not os.path.isdir(folder):
            result[name] = {"type": "file", "size": st.st_size, "ts": st.st_mtime}
            continue
        index: dict[str, dict[str, Any]] = {}
        total_size = total_movies = 0
        for dirpath, _dirs, fnames in os.walk(folder):
            for fname in fnames:
                fn = os.path.join(dirpath, fname)
                rel = fn.replace(folder, "")
                if rel not in index and os.path.exists(fn):
                    fst = os.stat(fn)
                    index[rel] = {"size": fst.st_size, "ts": fst.st_mtime}
                    total_size += fst.st_size
                    if rel.endswith("fractions.tiff") or rel.endswith(".eer"):
                        total_movies += 1
        result[name] = {"type": "dir", "size": total_size, "movies": total_movies,
                        "ts": st.st_mtime, "index": index}
    return result


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median_of(runs: int, fn: Callable[[], Any]) -> float:
    return statistics.median(timed(fn)[0] for _ in range(runs))


def run_find(root: str) -> None:
    subprocess.run(["find", root, "-printf", "%s\n"], stdout=subprocess.DEVNULL, check=True)


def new_scanner(root: str) -> TreeScanner:
    return TreeScanner(root, MovieRule())


def peak_memory(fn: Callable[[], Any]) -> tuple[int, int, Any]:
    """(peak bytes during fn, bytes still held by its result, result)."""
    tracemalloc.start()
    try:
        value = fn()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, current, value


def measure(tree: TreeInfo, runs: int, added: int) -> dict[str, Any]:
    root = tree.root
    for _ in range(2):  # warm the page and dentry caches for everyone
        run_find(root)
    out: dict[str, Any] = {}
    out["find"] = median_of(runs, lambda: run_find(root))
    out["full"] = median_of(runs, lambda: new_scanner(root).scan())
    out["original"] = median_of(runs, lambda: original_scan(root))

    scanner = new_scanner(root)
    first: ScanResult = scanner.scan()
    out["files_seen"] = sum(e.files for e in first.entries if e.type == "dir")
    out["movies_seen"] = sum(e.movies for e in first.entries)
    out["dirs_kept"] = scanner.node_count()
    unchanged = [timed(scanner.scan) for _ in range(runs)]
    out["unchanged"] = statistics.median(t for t, _ in unchanged)
    out["unchanged_stats"] = unchanged[-1][1].stats

    touched = tree.data_dirs[:10]  # a session writes into its current squares only
    after, movies_after = [], []
    for run in range(runs):
        add_movies(touched, added, tag=f"r{run}")
        seconds, result = timed(scanner.scan)
        after.append(seconds)
        movies_after.append(sum(e.movies for e in result.entries))
        out["added_stats"] = result.stats
        age_dirs(touched, time.time() - 86400)  # settle: next run starts from a quiet tree
        for d in touched:
            for name in os.listdir(d):
                os.utime(os.path.join(d, name), (time.time() - 86400,) * 2)
        scanner.scan()
    out["added"] = statistics.median(after)
    out["movies_added_seen"] = movies_after[0] - out["movies_seen"]

    out["mem_ours"] = peak_memory(lambda: (lambda s: (s.scan(), s)[1])(new_scanner(root)))[:2]
    out["mem_original"] = peak_memory(lambda: original_scan(root))[:2]
    return out


def report(tree: TreeInfo, r: dict[str, Any], runs: int, added: int) -> str:
    ms = 1000.0
    rows = [
        ("find ROOT -printf '%s\\n'", r["find"], "baseline"),
        ("full scan (ours)", r["full"], f"{r['full'] / r['find']:.2f}x find"),
        ("original (os.walk+exists+stat)", r["original"],
         f"{r['original'] / r['find']:.2f}x find; ours = {r['full'] / r['original']:.2f}x it"),
        ("rescan, nothing changed", r["unchanged"], f"{100 * r['unchanged'] / r['full']:.1f}% "
         "of full scan"),
        (f"rescan after {added} new movies", r["added"],
         f"{100 * r['added'] / r['full']:.1f}% of full scan"),
    ]
    lines = [f"tree: {tree.files} files, {tree.movies} movies, {tree.dirs} dirs under {tree.root}",
             f"medians of {runs} runs, warm cache, python {sys.version.split()[0]}", ""]
    lines += [f"{name:<34} {sec * ms:9.1f} ms   {note}" for name, sec, note in rows]
    u, a = r["unchanged_stats"], r["added_stats"]
    lines += ["",
              f"unchanged rescan: {u.dirs_statted} dir stats, {u.dirs_listed} dirs listed, "
              f"{u.files_statted} file stats",
              f"rescan after {added} movies: {a.dirs_statted} dir stats, {a.dirs_listed} dirs "
              f"listed, {a.files_statted} file stats; new movies seen: {r['movies_added_seen']}",
              f"scanner saw {r['files_seen']} files / {r['movies_seen']} movies; keeps "
              f"{r['dirs_kept']} directory records",
              f"peak memory of a full scan: ours {r['mem_ours'][0] / 2**20:.1f} MiB "
              f"(held after: {r['mem_ours'][1] / 2**20:.2f} MiB), original "
              f"{r['mem_original'][0] / 2**20:.1f} MiB (held after: "
              f"{r['mem_original'][1] / 2**20:.1f} MiB)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where to build the tree")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--squares", type=int, default=100, help="GridSquares per session")
    parser.add_argument("--holes", type=int, default=70, help="foil holes per GridSquare")
    parser.add_argument("--added", type=int, default=500, help="movies added before a rescan")
    parser.add_argument("--keep", action="store_true", help="keep the tree afterwards")
    args = parser.parse_args(argv)
    base = tempfile.mkdtemp(prefix="frames-bench-", dir=args.dir)
    try:
        seconds, tree = timed(lambda: build_tree(base, sessions=args.sessions,
                                                 squares_per_session=args.squares,
                                                 holes_per_square=args.holes))
        print(f"built in {seconds:.1f} s", flush=True)
        results = measure(tree, args.runs, args.added)
        print(report(tree, results, args.runs, args.added))
        if results["files_seen"] != tree.files or results["movies_added_seen"] != args.added:
            print("MISMATCH: the scanner did not see the tree as built", file=sys.stderr)
            return 1
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
