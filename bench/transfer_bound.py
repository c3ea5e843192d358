"""How close to ``cp -r`` can a copy that re-reads every byte from storage get here?

The ``large`` (12 movies) and ``small`` (3000 xml/jpg files) parts of
``transfer_bench.py`` copied by methods that do the least an honest check allows, next to
``cp -r`` and the plugin, each part's methods interleaved in one loop with the same fair
timing (fresh source, caches dropped, final ``sync`` inside, empty-session start-up
subtracted; see :mod:`transfer_bench`):

* ``cp+read-back`` ``cp -r``, ``sync``, then every copied file's pages dropped and the
                file read once from storage by 4 threads, no checksum: the floor of any
                copy checked from storage after it is made (both parts);
* ``minimal``   4 threads: read + BLAKE3 + write, ``fsync``, drop the pages, read back
                + BLAKE3 (no rename, manifest, settle or source removal);
* ``direct``    the same with ``O_DIRECT`` writes and read-back (no page cache for the
                copy at all; aligned anonymous buffers);
* ``direct-group`` ``O_DIRECT`` without the ``fsync`` per file: the read-back gets what
                the device returns, one ``syncfs`` at the end makes the group durable;
* ``ours``      the plugin's task with its defaults (both parts; see transfer_bench);
* ``ours-size`` the task with ``verify = "size"`` (no read-back; both parts).

``minimal``, ``direct`` and ``direct-group`` run on the movies only.

``cp -r`` moves every byte through the disk twice (read, write); a check from storage
adds a third pass. The ratios of ``minimal`` and ``direct`` are what the plugin could
reach at best with that check on this machine.

Usage: ``.venv/bin/python bench/transfer_bound.py [--repeat 3] [--parts large,small]
[--movies 12] [--small 3000]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from functools import partial
from pathlib import Path
from typing import Callable

import blake3
from emworker_session_transfer.checksum import file_digest

sys.path.insert(0, str(Path(__file__).parent))
import transfer_bench as bench  # noqa: E402  (the shared fair timing)
from transfer_baselines import (  # noqa: E402
    Method,
    cp_r,
    cp_read_back,
    drop_caches,
    file_pairs,
    fresh_workdir,
    in_threads,
    page_buffer,
)


def copy_minimal(src: str, dst: str) -> None:
    view, hasher = memoryview(page_buffer()), blake3.blake3()
    src_fd = os.open(src, os.O_RDONLY)
    dst_fd = os.open(dst, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        while got := os.readv(src_fd, [view]):
            hasher.update(view[:got])
            os.write(dst_fd, view[:got])
        os.fsync(dst_fd)
        os.posix_fadvise(dst_fd, 0, 0, os.POSIX_FADV_DONTNEED)
        if file_digest(dst_fd, "blake3", page_buffer())[0] != hasher.hexdigest():
            raise RuntimeError(f"{dst}: checksum differs")
    finally:
        os.close(src_fd)
        os.close(dst_fd)


def copy_direct(src: str, dst: str, fsync: bool = True) -> None:
    view, hasher = memoryview(page_buffer()), blake3.blake3()
    src_fd = os.open(src, os.O_RDONLY)
    dst_fd = os.open(dst, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_DIRECT, 0o644)
    try:
        size, offset = os.fstat(src_fd).st_size, 0
        while offset < size:
            got = os.readv(src_fd, [view])
            if got == 0:
                raise RuntimeError(f"{src} was truncated")
            hasher.update(view[:got])
            padded = (got + 4095) & ~4095  # O_DIRECT writes whole blocks
            view[got:padded] = bytes(padded - got)
            os.pwrite(dst_fd, view[:padded], offset)
            offset += got
        os.ftruncate(dst_fd, size)
        if fsync:
            os.fsync(dst_fd)
        if file_digest(dst_fd, "blake3", page_buffer())[0] != hasher.hexdigest():
            raise RuntimeError(f"{dst}: checksum differs")
    finally:
        os.close(src_fd)
        os.close(dst_fd)


def threaded(copy: Callable[[str, str], None], sync_each: bool = True) -> Method:
    def run(src: Path, dst: Path) -> None:
        in_threads(copy, file_pairs(src, dst))
        if not sync_each:
            os.sync()  # the group's data and metadata, one flush (syncfs in the plugin)
    return run


BOTH: dict[str, Method] = {"cp -r": cp_r, "cp+read-back": cp_read_back}
MOVIES_ONLY: dict[str, Method] = {
    "minimal": threaded(copy_minimal), "direct": threaded(copy_direct),
    "direct-group": threaded(partial(copy_direct, fsync=False), sync_each=False)}
PLUGIN: dict[str, Method] = {"ours": bench.ours(), "ours-size": bench.ours(verify="size")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--movies", type=int, default=12)
    parser.add_argument("--movie-mb", type=int, default=136)
    parser.add_argument("--small", type=int, default=3000)
    parser.add_argument("--parts", default="large,small")
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/transfer-bound"))
    args = parser.parse_args()
    work = fresh_workdir(args.workdir)
    try:
        cold = drop_caches()
        print(f"{'cold' if cold else 'WARM (cannot drop caches)'} cache before every run; "
              f"median of {args.repeat}; methods interleaved per round")
        for part in args.parts.split(","):
            if part == "large":
                bench.build_large(work / part, args.movies, args.movie_mb)
                methods = {**BOTH, **MOVIES_ONLY, **PLUGIN}
            elif part == "small":
                bench.build_small(work / part, args.small)
                methods = {**BOTH, **PLUGIN}
            else:
                parser.error(f"unknown part {part!r}: large, small")
            runs = bench.measure({part: (work / part, methods)}, work, args.repeat)
            bench.report(part, work / part, runs[part])
            shutil.rmtree(work / part)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
