"""The warm bound of a first frames scan split over two processes, against ``find``.

issue 23 asks whether a second process could take the warm, CPU-bound part of the first
scan past the one-interpreter bound. This measures the bound, not the scanner: the bare
loop of ``frames_scan.py`` (``bare_scan.py``: ``os.scandir`` + one ``lstat`` per file, no
bookkeeping) in one process, and the same loop in two fresh interpreters (``-S``; their start-up
included) each given every other folder of the first level with 16 or more, against
``find -printf '%s\\n'``, interleaved, warm cache (a tree built once, read once before the rounds).

Usage: ``.venv/bin/python bench/frames_split_bound.py [--rounds 5] [--holes 133]``
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
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bare_scan import bare_scan  # noqa: E402
from frames_tree import build_tree  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
CHILD = (f"import sys; sys.path.insert(0, {BENCH!r}); from bare_scan import bare_scan; "
         "print(bare_scan(*sys.argv[1:]))")


def split(root: str, parts: int = 16) -> tuple[list[list[str]], list[str]]:
    """Folders, level by level from ``root`` until there are ``parts`` of them, dealt
    alternately to the two processes; the files met on the way (the parent lists them)."""
    folders: list[str] = [root]
    files: list[str] = []
    while 0 < len(folders) < parts:
        below: list[str] = []
        for folder in folders:
            for name in sorted(os.listdir(folder)):
                path = os.path.join(folder, name)
                (below if os.path.isdir(path) else files).append(path)
        folders = below
    return [folders[0::2], folders[1::2]], files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--holes", type=int, default=133,
                        help="foil holes per GridSquare (as frames_scan.py: 200k files)")
    args = parser.parse_args()
    root = tempfile.mkdtemp(dir="/var/tmp", prefix="frames-split-")
    try:
        info = build_tree(root, holes_per_square=args.holes)
        halves, files = split(root)

        def find() -> None:
            subprocess.run(["find", root, "-printf", "%s\\n"], stdout=subprocess.DEVNULL,
                           check=True)

        def one_process() -> None:
            bare_scan(root)

        def two_processes() -> None:
            children = [subprocess.Popen([sys.executable, "-S", "-c", CHILD, *half],
                                         stdout=subprocess.PIPE) for half in halves]
            for path in files:
                os.lstat(path)
            for child in children:
                child.communicate()

        methods: dict[str, Callable[[], None]] = {
            "find": find, "bare, 1 process": one_process, "bare, 2 processes": two_processes}
        for method in methods.values():  # warm the cache
            method()
        times: dict[str, list[float]] = {name: [] for name in methods}
        for _round in range(args.rounds):
            for name, method in methods.items():
                start = time.perf_counter()
                method()
                times[name].append(time.perf_counter() - start)
        print(f"{info.files} files, warm, {args.rounds} rounds; load average "
              f"{open('/proc/loadavg').read().split()[:3]}")
        for name, seconds in times.items():
            ratios = [f / s for f, s in zip(times["find"], seconds)]
            print(f"  {name:<18} {statistics.median(seconds):.3f} s   find's time / this "
                  f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
