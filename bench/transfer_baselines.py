"""The tools a facility would use for a session transfer, as bench methods ``(src, dst)``.

Shared by ``transfer_bench.py`` (every ratio of issue 23's table) and
``transfer_bound.py`` (how close to the floor). Every method is a complete job: the
caller drops the page cache before it and adds a final ``sync`` inside the timing.

* ``cp -r``        coreutils, no checksum, nothing removed;
* ``script``       the same guarantee as the plugin's default from standard tools, in
                   sequence: ``b3sum`` of every source file, ``cp -r``, ``sync``, page
                   cache dropped, ``b3sum -c`` of the copy, then the movies unlinked;
* ``rsync move``   ``rsync -a --remove-source-files`` (checks what it received, never
                   reads the copy back from storage); ``rsync -a`` for files that stay;
* ``cp+rm``        ``cp -r``, ``sync``, movies unlinked: a move with no checksum;
* ``floor``        ``cp -r``, ``sync``, then every copied file's pages dropped and the
                   file read once from storage by 4 threads, no checksum: the least any
                   copy checked from storage after it is made can cost.
"""

from __future__ import annotations

import mmap
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Callable, Sequence

Method = Callable[[Path, Path], None]
MOVIE_SUFFIX = "_fractions.tiff"
CHUNK = 8 << 20
_local = threading.local()


def fresh_workdir(work: Path) -> Path:
    """``work`` emptied, with the ``empty`` session every method also runs on."""
    shutil.rmtree(work, ignore_errors=True)
    (work / "empty").mkdir(parents=True)
    return work


def session_dirs(work: Path) -> tuple[Path, Path]:
    """(source, destination) of one run: in two separate roots, as the plugin requires."""
    (work / "frames").mkdir(exist_ok=True)
    (work / "raw").mkdir(exist_ok=True)
    return work / "frames" / "src", work / "raw" / "dst"


def drop_caches() -> bool:
    subprocess.run(["sync"], check=True)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def cp_r(src: Path, dst: Path) -> None:
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)


def relative_files(root: Path) -> list[str]:
    """Every file under ``root``, relative to it (what ``find . -type f`` lists)."""
    found = []
    for folder, _dirs, names in os.walk(root):
        rel = os.path.relpath(folder, root)
        found += [n if rel == "." else f"{rel}/{n}" for n in names]
    return found


def unlink_movies(src: Path) -> None:
    subprocess.run(["find", str(src), "-type", "f", "-name", f"*{MOVIE_SUFFIX}", "-delete"],
                   check=True)


def script(src: Path, dst: Path) -> None:
    sums = dst.parent / f"{dst.name}.b3sums"
    files = relative_files(src)
    with open(sums, "wb") as out:  # relative names, so `b3sum -c` runs in the copy
        if files:  # no names: b3sum would hash its stdin
            subprocess.run(["b3sum", "--", *files], cwd=src, stdout=out, check=True)
    cp_r(src, dst)
    drop_caches()  # sync, then the copy's pages dropped: -c reads it from storage
    subprocess.run(["b3sum", "--quiet", "-c", str(sums)], cwd=dst, check=True)
    sums.unlink()
    unlink_movies(src)


def rsync_move(src: Path, dst: Path) -> None:
    subprocess.run(["rsync", "-a", "--remove-source-files", f"{src}/", f"{dst}/"], check=True)


def rsync_a(src: Path, dst: Path) -> None:
    subprocess.run(["rsync", "-a", f"{src}/", f"{dst}/"], check=True)


def cp_rm(src: Path, dst: Path) -> None:
    cp_r(src, dst)
    os.sync()
    unlink_movies(src)


def page_buffer() -> mmap.mmap:
    """Page-aligned (anonymous mapping: no file behind it, so no SIGBUS)."""
    buf: mmap.mmap | None = getattr(_local, "buffer", None)
    if buf is None:
        buf = _local.buffer = mmap.mmap(-1, CHUNK)
    return buf


def read_from_storage(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # clean after the sync
        view = memoryview(page_buffer())
        while os.readv(fd, [view]):
            pass
    finally:
        os.close(fd)


def in_threads(work: Callable[..., None], jobs: Sequence[tuple[str, ...]],
               workers: int = 4) -> None:
    """``work(*job)`` for every job, ``workers`` at a time; the first failure re-raised."""
    todo: queue.SimpleQueue[tuple[str, ...]] = queue.SimpleQueue()
    for job in jobs:
        todo.put(job)
    errors: list[BaseException] = []

    def drain() -> None:
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:  # every job taken: this thread is done
                return
            try:
                work(*job)
            except BaseException as exc:  # re-raised below: a failed copy is no timing
                errors.append(exc)
                return

    threads = [threading.Thread(target=drain) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def file_pairs(src: Path, dst: Path) -> list[tuple[str, str]]:
    """(source, destination) of every file under ``src``; destination folders made."""
    pairs = []
    for folder, _dirs, names in os.walk(src):
        target = str(dst) + folder[len(str(src)):]
        os.makedirs(target, exist_ok=True)
        pairs += [(os.path.join(folder, n), os.path.join(target, n)) for n in names]
    return pairs


def cp_read_back(src: Path, dst: Path) -> None:
    cp_r(src, dst)
    os.sync()
    in_threads(read_from_storage, [(d,) for _s, d in file_pairs(src, dst)])
