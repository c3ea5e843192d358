"""Copy one file in-process: temp name, checksum while copying, fsync, verify, rename.

The source is mapped with ``mmap`` and written from the mapping, so each byte is
copied once by the kernel (``write``) and hashed straight from the page cache; a
read+write loop costs a second copy, and ``copy_file_range``/``sendfile`` never show
the bytes to us, so they cannot give the checksum that the copy is made from.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import mmap
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

TEMP_PREFIX = ".emworker-tmp-"
_MMAP_MIN = 1 << 20  # smaller files are read in one go


class SourceGone(Exception):
    """The source vanished or changed while being copied; it is looked at again later."""


class DestinationError(OSError):
    """The destination cannot take the file (full, read-only, gone, refused, corrupt)."""


@dataclass(frozen=True)
class Copied:
    size: int
    mtime_ns: int
    sha256: str


def _hash_file(path: Path, chunk: int, from_storage: bool = False) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if from_storage and hasattr(os, "posix_fadvise"):  # drop clean pages: read the disk
            os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        if size < _MMAP_MIN:
            digest.update(fh.read())
            return digest.hexdigest()
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            with memoryview(mapped) as view:
                for offset in range(0, size, chunk):
                    with view[offset:offset + chunk] as part:
                        digest.update(part)
    return digest.hexdigest()


def _write_all(fd: int, data: memoryview | bytes) -> None:
    total, done = len(data), 0
    while done < total:
        with memoryview(data)[done:] as rest:
            done += os.write(fd, rest)


def _copy_into(src_fd: int, size: int, dst_fd: int, chunk: int, delay: float) -> str:
    digest = hashlib.sha256()
    if size < _MMAP_MIN:
        data = os.read(src_fd, size + 1)
        if len(data) != size:
            raise SourceGone("size changed while copying")
        digest.update(data)
        _write_all(dst_fd, data)
        return digest.hexdigest()
    with mmap.mmap(src_fd, size, access=mmap.ACCESS_READ) as mapped:
        mapped.madvise(mmap.MADV_SEQUENTIAL)
        view = memoryview(mapped)
        try:
            for offset in range(0, size, chunk):
                with view[offset:offset + chunk] as part:  # released even on errors
                    digest.update(part)
                    _write_all(dst_fd, part)
                if delay:
                    time.sleep(delay)
        finally:
            view.release()
    return digest.hexdigest()


def copy_verified(src: Path, dst: Path, *, chunk: int = 8 << 20, verify: str = "reread",
                  durable: bool = True, delay: float = 0.0) -> Copied:
    """Copy ``src`` to ``dst`` and check it; ``dst`` appears only when complete.

    ``durable=False`` skips the per-file fsync: the caller syncs the filesystem once for
    a batch of small files before it records any of them.
    """
    try:
        src_fd = os.open(src, os.O_RDONLY)
    except FileNotFoundError:
        raise SourceGone(f"{src} vanished") from None
    temp = dst.parent / f"{TEMP_PREFIX}{secrets.token_hex(4)}-{dst.name}"
    try:
        before = os.fstat(src_fd)
        try:
            dst_fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise DestinationError(exc.errno, f"cannot create {temp}: {exc.strerror}") from exc
        try:
            sha = _copy_into(src_fd, before.st_size, dst_fd, chunk, delay)
            os.fchmod(dst_fd, before.st_mode & 0o7777)
            os.utime(dst_fd, ns=(before.st_atime_ns, before.st_mtime_ns))
            if durable:
                os.fsync(dst_fd)
        except (SourceGone, DestinationError):
            raise
        except OSError as exc:
            raise DestinationError(exc.errno, f"writing {dst}: {exc.strerror}") from exc
        finally:
            os.close(dst_fd)
        after = os.fstat(src_fd)
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise SourceGone(f"{src} changed while being copied")
        _check(temp, before.st_size, sha, chunk, verify)
        os.replace(temp, dst)
        return Copied(before.st_size, before.st_mtime_ns, sha)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    finally:
        os.close(src_fd)


def _check(temp: Path, size: int, sha: str, chunk: int, verify: str) -> None:
    try:
        actual = os.stat(temp).st_size
        if actual != size:
            raise DestinationError(errno.EIO, f"{temp}: {actual} bytes written, {size} expected")
        if verify in ("reread", "storage") and \
                _hash_file(temp, chunk, from_storage=verify == "storage") != sha:
            raise DestinationError(errno.EIO, f"{temp}: checksum differs after writing")
    except DestinationError:
        raise
    except OSError as exc:
        raise DestinationError(exc.errno, f"verifying {temp}: {exc.strerror}") from exc


def fsync_dir(path: Path) -> None:
    """Make renames in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(path: Path) -> None:
    """Flush the filesystem holding ``path`` (``syncfs``; ``sync`` where it is missing)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), f"syncfs {path}")
    except AttributeError:
        os.sync()
    finally:
        os.close(fd)
