"""Writing a whole file atomically and reading a bounded one, never through a link.

A job user or the microscope PC may plant a link (or a FIFO) under the name we are about to
write or read, or at a fixed temporary name next to it. Here the temporary name is new and
unique each time (created with ``O_EXCL | O_NOFOLLOW``), the rename replaces whatever entry
holds the name (a link is replaced, not followed), and reads open ``O_NOFOLLOW`` regular
files only and never read more than asked.
"""

from __future__ import annotations

import errno
import os
import secrets

from .fs import DirRef, _Folder, open_regular

TEMP_TRIES = 16


class TooLarge(OSError):
    """A file larger than the bound given to :func:`read_bounded`."""


def atomic_write(where: DirRef, name: str, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``name`` in the folder ``where`` (a descriptor, or a path that is not a
    link) with ``data``: a unique hidden temporary file in the same folder, written,
    ``fchmod(mode)``, fsync'd, renamed over ``name``, then the folder fsync'd. A reader sees
    the old content or the new, never a part; a crash leaves at most a ``.name.*.tmp``."""
    with _Folder(where) as dir_fd:
        fd, temp = _create_temp(dir_fd, name, mode)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fchmod(fd, mode)   # exactly ``mode``, whatever the umask
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(temp, dir_fd=dir_fd)
            except OSError:
                pass
            raise
        os.fsync(dir_fd)


def _create_temp(dir_fd: int, name: str, mode: int) -> tuple[int, str]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(TEMP_TRIES):
        temp = f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(temp, flags, mode & 0o600, dir_fd=dir_fd), temp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"no free temporary name for {name!r}")


def read_tail(where: DirRef, name: str, max_bytes: int) -> bytes:
    """The last ``max_bytes`` bytes of the regular file ``name`` (``O_NOFOLLOW``)."""
    with _Folder(where) as dir_fd:
        fd = open_regular(dir_fd, name)
        try:
            size = os.fstat(fd).st_size
            return _read_upto(fd, max(0, size - max_bytes), max_bytes)
        finally:
            os.close(fd)


def read_bounded(where: DirRef, name: str, max_bytes: int) -> bytes:
    """The whole regular file ``name`` (``O_NOFOLLOW``); :class:`TooLarge` if it holds
    more than ``max_bytes`` bytes (it is never read past that)."""
    with _Folder(where) as dir_fd:
        fd = open_regular(dir_fd, name)
        try:
            data = _read_upto(fd, 0, max_bytes + 1)
        finally:
            os.close(fd)
    if len(data) > max_bytes:
        raise TooLarge(errno.EFBIG, f"{name!r} is larger than {max_bytes} bytes")
    return data


def _read_upto(fd: int, offset: int, count: int) -> bytes:
    chunks: list[bytes] = []
    while count > 0:
        chunk = os.pread(fd, min(count, 1 << 20), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        count -= len(chunk)
    return b"".join(chunks)
