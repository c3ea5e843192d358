"""The one walker of session folders, and opening files in them, by directory descriptors.

The frames share is writable by the microscope PC, so a name seen in a scan may be a
symlink by the time we open or remove it. Every folder is opened relative to its parent's
descriptor with ``O_NOFOLLOW`` and every file opened or unlinked relative to its folder's
descriptor: a symlink swapped in anywhere along the path is refused, never followed.

Rules, shared by ``transfer`` and ``monitor``: hidden names (EPU/rsync temporaries, our
own ``.emworker-*``) and symlinks are left out; a name that vanishes between listing and
use is skipped silently; a folder or file we may not read is a *problem* (reported with
its path, looked at again on the next scan), never taken for "not there yet".
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # no FIFO hangs
MAX_DEPTH = 64
# Gone or replaced since it was listed (a symlink now: ELOOP/ENOTDIR under O_NOFOLLOW).
VANISHED = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


class Unsafe(OSError):
    """A path component is no longer a real folder / regular file (swapped for a link)."""


@dataclass
class Walk:
    files: list[tuple[str, os.stat_result]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # "path: reason", retried next scan
    root_missing: bool = False


def walk(root: Path) -> Walk:
    """(relative path, lstat) of the regular, non-hidden files under ``root``, sorted."""
    result = Walk()
    try:
        fd = os.open(root, DIR_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            result.root_missing = True
        else:
            result.problems.append(f"{root}: {exc.strerror}")
        return result
    try:
        _walk_dir(fd, root, "", 0, result)
    finally:
        os.close(fd)
    return result


def _walk_dir(fd: int, root: Path, rel_dir: str, depth: int, result: Walk) -> None:
    try:
        with os.scandir(fd) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        result.problems.append(f"{root / rel_dir}: {exc.strerror}")
        return
    subdirs: list[str] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            elif entry.is_file(follow_symlinks=False):
                result.files.append((rel, entry.stat(follow_symlinks=False)))
        except OSError as exc:
            if exc.errno not in VANISHED:
                result.problems.append(f"{root / rel}: {exc.strerror}")
    for name in subdirs:
        rel = f"{rel_dir}/{name}" if rel_dir else name
        if depth >= MAX_DEPTH:
            result.problems.append(f"{root / rel}: deeper than {MAX_DEPTH} folders")
            continue
        try:
            sub = os.open(name, DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            if exc.errno not in VANISHED:
                result.problems.append(f"{root / rel}: {exc.strerror}")
            continue
        try:
            _walk_dir(sub, root, rel, depth + 1, result)
        finally:
            os.close(sub)


def walk_dirs_bottom_up(root: Path) -> Iterator[tuple[int, str]]:
    """(parent descriptor, name) of every non-hidden real folder under ``root``, children
    first; the descriptor is valid until the next item."""
    try:
        fd = os.open(root, DIR_FLAGS)
    except OSError:
        return
    try:
        yield from _dirs_below(fd, 0)
    finally:
        os.close(fd)


def _dirs_below(fd: int, depth: int) -> Iterator[tuple[int, str]]:
    try:
        with os.scandir(fd) as listing:
            names = [e.name for e in listing
                     if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for name in names:
        try:
            sub = os.open(name, DIR_FLAGS, dir_fd=fd)
        except OSError:
            continue
        try:
            if depth < MAX_DEPTH:
                yield from _dirs_below(sub, depth + 1)
        finally:
            os.close(sub)
        yield fd, name


class SourceDirs:
    """Descriptors of the source folders used in one transfer step (opened once each).

    Only the task thread opens them (before handing a file to a copier); they are closed
    when the step ends, after every copy of the step has finished.
    """

    def __init__(self, root: Path, max_open: int = 128) -> None:
        self.root = root
        self.max_open = max_open   # a session has thousands of folders; fds are limited
        self._fds: dict[str, int] = {}
        self._held: dict[str, int] = {}   # folder -> copies queued that use its descriptor

    def folder(self, rel_dir: str) -> int:
        """Descriptor of ``root/rel_dir``, each component opened with ``O_NOFOLLOW``."""
        fd = self._fds.get(rel_dir)
        if fd is not None:
            return fd
        if rel_dir == "":
            fd = os.open(self.root, DIR_FLAGS)
        else:
            parent, _, name = rel_dir.rpartition("/")
            fd = os.open(name, DIR_FLAGS, dir_fd=self.folder(parent))
        self._fds[rel_dir] = fd
        return fd

    def locate(self, rel: str) -> tuple[int, str]:
        """(folder descriptor, file name) of ``rel``."""
        parent, _, name = rel.rpartition("/")
        return self.folder(parent), name

    def hold(self, rel: str) -> None:
        """A queued copy uses the folder descriptor of ``rel``: keep it open."""
        parent = rel.rpartition("/")[0]
        self._held[parent] = self._held.get(parent, 0) + 1
        self._trim()

    def release(self, rel: str) -> None:
        parent = rel.rpartition("/")[0]
        left = self._held.get(parent, 0) - 1
        if left > 0:
            self._held[parent] = left
        else:
            self._held.pop(parent, None)
        self._trim()

    def _trim(self) -> None:
        """Over ``max_open``: close every descriptor no queued copy holds (reopened when
        needed; at most the copy window's folders stay open)."""
        if len(self._fds) > self.max_open:
            for folder in [f for f in self._fds if f not in self._held]:
                os.close(self._fds.pop(folder))

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def open_regular(dir_fd: int, name: str) -> tuple[int, os.stat_result]:
    """Open a regular file in ``dir_fd`` for reading, refusing symlinks and specials."""
    fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise Unsafe(errno.EINVAL, f"{name} is not a regular file")
    return fd, st


def unlink_if_same(dir_fd: int, name: str, size: int, mtime_ns: int,
                   inode: tuple[int, int] | None = None) -> bool:
    """Remove ``name`` from ``dir_fd`` only if it is still the regular file we copied."""
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISREG(st.st_mode) or (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
        return False
    if inode is not None and (st.st_dev, st.st_ino) != inode:
        return False
    os.unlink(name, dir_fd=dir_fd)
    return True
