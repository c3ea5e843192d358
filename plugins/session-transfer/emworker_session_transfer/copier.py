"""Copy one file in-process: temp name, checksum while copying, fsync, verify, rename.

The source is read into a reusable per-thread buffer, hashed and written from it. No
``mmap``: a source truncated on the share while mapped raises SIGBUS, which ends the
whole worker; a short ``read`` is just a file to look at again later. The source is
opened relative to its folder's descriptor with ``O_NOFOLLOW`` (see :mod:`.walk`), and
the copy is made and renamed relative to its destination folder's descriptor: a link in
the destination is never followed either.
"""

from __future__ import annotations

import errno
import itertools
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from emhub_worker_core.guard import VANISHED, NotRegular, open_regular_stat

from .checksum import file_digest, new_hasher
from .pool import Cancelled

TEMP_PREFIX = ".emworker-tmp-"
WRITE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# Test kit hook: called after each chunk (widens the crash window, truncates a source).
after_chunk: Optional[Callable[[str], None]] = None


def _read_umask() -> int:
    """The process umask without setting it (os.umask would race with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o7777  # unknown: always fchmod


_UMASK = _read_umask()
_local = threading.local()
_RUN = secrets.token_hex(3)      # per process: temp names without a getrandom per file
_serial = itertools.count()      # next() on a count is atomic under the GIL


class SourceGone(Exception):
    """The source vanished; nothing to report (EPU removes its temporary files)."""


class SourceProblem(Exception):
    """The source could not be copied now (changed, truncated, unreadable, swapped for a
    link); reported with its path and looked at again on a later scan."""


class DestinationError(OSError):
    """The destination cannot take the file (full, read-only, gone, refused, corrupt)."""


@dataclass(frozen=True)
class Copied:
    size: int
    mtime_ns: int
    digest: str
    inode: tuple[int, int]   # (st_dev, st_ino) of the source, checked before removing it
    path: str                # the destination (renamed into place already), for messages
    verified: bool           # False: the caller checks it from storage after a sync
    durable: bool            # fsync'd here; False: the caller syncs its group first
    dir_fd: int              # the destination folder (held open by the caller)
    name: str                # the destination's name in it


def buffer(chunk: int) -> bytearray:
    """This thread's copy buffer (allocated once per thread and size)."""
    buf: bytearray | None = getattr(_local, "buffer", None)
    if buf is None or len(buf) < chunk + 1:
        buf = _local.buffer = bytearray(chunk + 1)
    return buf


def _write_all(fd: int, data: memoryview) -> None:
    done, total = 0, len(data)
    while done < total:
        done += os.write(fd, data[done:])


def _copy_into(src_fd: int, size: int, dst_fd: int, chunk: int, algorithm: str,
               label: str) -> str:
    hasher = new_hasher(algorithm)
    view = memoryview(buffer(chunk))
    copied = 0
    try:
        while copied < size:
            want = min(chunk, size - copied) if size - copied > chunk else size - copied + 1
            got = os.readv(src_fd, [view[:want]])
            if got == 0:
                raise SourceProblem(f"{label} was truncated while being copied "
                                    f"({copied} of {size} bytes)")
            if copied + got > size:
                raise SourceProblem(f"{label} grew while being copied")
            part = view[:got]
            hasher.update(part)
            try:
                _write_all(dst_fd, part)
            except OSError as exc:
                raise DestinationError(exc.errno, f"writing {label}: {exc.strerror}") from exc
            copied += got
            if after_chunk is not None:
                after_chunk(label)
    finally:
        view.release()
    return hasher.hexdigest()


@dataclass(frozen=True)
class CopyJob:
    """One file to copy: its source folder's descriptor and name, its path relative to the
    session (for messages), the destination path and folder descriptor, and whether it is
    fsync'd and checked on its own (movies, large files)."""

    src_dir_fd: int
    name: str
    rel: str
    dst: str
    dst_dir_fd: int
    durable: bool


def copy_bundle(jobs: list[CopyJob], *, chunk: int, verify: str, algorithm: str,
               cancelled: Callable[[], bool]) -> list[Copied | BaseException]:
    """Copy small files one after the other in this thread: one hand-off for the lot, not
    two per file (thread wake-ups cost more CPU than copying a small file). Their reads
    are started together first, so the disk serves the bundle in parallel as threads
    would. A file's trouble is its own outcome; files not started when ``cancelled()``
    come back as :class:`Cancelled`."""
    opened: list[tuple[int, os.stat_result] | BaseException] = []
    outcomes: list[Copied | BaseException] = []
    try:
        for job in jobs:
            try:
                src_fd, before = _open_source(job)
            except (SourceGone, SourceProblem) as exc:
                opened.append(exc)
                continue
            opened.append((src_fd, before))
            if len(jobs) > 1:
                try:  # a hint: the bundle's data on its way while the first is copied
                    os.posix_fadvise(src_fd, 0, 0, os.POSIX_FADV_WILLNEED)
                except OSError:
                    pass
        for job, source in zip(jobs, opened):
            if isinstance(source, BaseException):
                outcomes.append(source)
            elif cancelled():
                outcomes.append(Cancelled())
            else:
                try:
                    outcomes.append(_copy_open(job, *source, chunk, verify, algorithm))
                except BaseException as exc:  # the task thread decides, as for one copy
                    outcomes.append(exc)
    finally:
        for left in opened:
            if not isinstance(left, BaseException):
                os.close(left[0])
    return outcomes


def _open_source(job: CopyJob) -> tuple[int, os.stat_result]:
    try:
        return open_regular_stat(job.src_dir_fd, job.name, os.O_RDONLY)
    except NotRegular as exc:
        raise SourceProblem(f"{job.rel}: {exc.strerror}; not copied") from None
    except OSError as exc:
        if exc.errno in VANISHED:
            if exc.errno == errno.ELOOP:
                raise SourceProblem(f"{job.rel} is a symlink now; not copied") from None
            raise SourceGone(f"{job.rel} vanished") from None
        raise SourceProblem(f"{job.rel}: cannot read: {exc.strerror}") from None


def _copy_open(job: CopyJob, src_fd: int, before: os.stat_result, chunk: int, verify: str,
               algorithm: str) -> Copied:
    """Copy ``job``'s source (open: ``src_fd``, ``before`` its ``fstat``) to a temp file
    next to ``job.dst`` and check it.

    ``job.dst`` names the destination for messages; the file is made in ``job.dst_dir_fd``
    (its folder, opened without following links) under the last component of ``dst``.

    ``job.durable``: fsync'd and checked here (``verify="storage"`` drops the written
    pages first, so the re-read comes from storage). Otherwise: the caller syncs
    the filesystem once for its group and checks from storage then (``verified=False``).
    The file is renamed into place here: the caller records it only once it is durable
    and checked, and an unrecorded file in the destination is never trusted (copied
    again), so a check that fails later just removes it (:func:`discard`).
    """
    rel, dst, dst_dir_fd = job.rel, job.dst, job.dst_dir_fd
    folder, _, base = dst.rpartition("/")
    temp_name = f"{TEMP_PREFIX}{_RUN}{next(_serial)}-{base}"  # O_EXCL: never clobbers
    temp = f"{folder}/{temp_name}"
    try:
        mode = before.st_mode & 0o7777
        try:
            dst_fd = os.open(temp_name, WRITE_FLAGS, mode, dir_fd=dst_dir_fd)
        except OSError as exc:
            raise DestinationError(exc.errno, f"cannot create {temp}: {exc.strerror}") from exc
        try:
            digest = _copy_into(src_fd, before.st_size, dst_fd, chunk, algorithm, rel)
            if mode & ~_UMASK != mode:  # the umask took bits away: put them back
                os.fchmod(dst_fd, mode)
            os.utime(dst_fd, ns=(before.st_atime_ns, before.st_mtime_ns))
            checked = False
            if job.durable:
                os.fsync(dst_fd)
                _check_open(dst_fd, temp, before.st_size, digest, chunk, verify, algorithm)
                checked = True
            elif verify != "storage":  # "storage" needs the group's sync first
                _check_open(dst_fd, temp, before.st_size, digest, chunk, verify, algorithm)
                checked = True
        except (SourceProblem, DestinationError):
            raise
        except OSError as exc:
            raise DestinationError(exc.errno, f"writing {temp}: {exc.strerror}") from exc
        finally:
            os.close(dst_fd)
        after = os.fstat(src_fd)
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise SourceProblem(f"{rel} changed while being copied")
        try:
            os.replace(temp_name, base, src_dir_fd=dst_dir_fd, dst_dir_fd=dst_dir_fd)
        except OSError as exc:
            raise DestinationError(exc.errno, f"renaming into {dst}: {exc.strerror}") from exc
        return Copied(before.st_size, before.st_mtime_ns, digest,
                      (before.st_dev, before.st_ino), dst, checked, job.durable, dst_dir_fd,
                      base)
    except BaseException:
        discard(temp_name, dst_dir_fd)
        raise


def _check_open(fd: int, temp: str, size: int, digest: str, chunk: int, verify: str,
                algorithm: str) -> None:
    """Check the written file through its descriptor (after fsync, for "storage")."""
    actual = os.fstat(fd).st_size
    if actual != size:
        raise DestinationError(errno.EIO, f"{temp}: {actual} bytes written, {size} expected")
    if verify == "size":
        return
    if verify == "storage":  # clean after fsync: dropping the pages makes us read storage
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    if _hash_fd(fd, algorithm, buffer(chunk)) != digest:
        raise DestinationError(errno.EIO, f"{temp}: checksum differs after writing")


def _hash_fd(fd: int, algorithm: str, buf: bytearray) -> str:
    return file_digest(fd, algorithm, buf)[0]


def check_stored(items: list[tuple[int, str, str, int, str]], algorithm: str, chunk: int
                 ) -> list[DestinationError | None]:
    """After a filesystem sync: re-read each (folder descriptor, name, path for messages,
    size, digest) from storage and compare.

    Every file's cached pages are dropped and its read-ahead started before the first is
    read, so the disk serves the group in parallel instead of one small read at a time.
    """
    opened: list[int | DestinationError] = []
    for dir_fd, name, temp, _size, _digest in items:
        try:
            new_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            os.posix_fadvise(new_fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.posix_fadvise(new_fd, 0, 0, os.POSIX_FADV_WILLNEED)
            opened.append(new_fd)
        except OSError as exc:
            opened.append(DestinationError(exc.errno, f"verifying {temp}: {exc.strerror}"))
    outcome: list[DestinationError | None] = []
    buf = buffer(chunk)
    for (_dir_fd, _name, temp, size, digest), fd in zip(items, opened):
        if isinstance(fd, DestinationError):
            outcome.append(fd)
            continue
        try:
            got, length = file_digest(fd, algorithm, buf)
            ok = (got, length) == (digest, size)
            outcome.append(None if ok else DestinationError(
                errno.EIO, f"{temp}: checksum differs after writing"))
        except OSError as exc:
            outcome.append(DestinationError(exc.errno, f"verifying {temp}: {exc.strerror}"))
        finally:
            os.close(fd)
    return outcome


def discard(name: str, dir_fd: int | None = None) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def fsync_dir(path: str | Path) -> None:
    """Make renames in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(path: Path) -> None:
    """Flush the filesystem holding ``path`` (``syncfs``; ``sync`` where it is missing)."""
    import ctypes  # only here: most copies never need it

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), f"syncfs {path}")
    except AttributeError:
        os.sync()
    finally:
        os.close(fd)
