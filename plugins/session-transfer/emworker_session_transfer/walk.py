"""The one walker of session folders, and their folders' descriptors, by the guard's rules.

The frames share is writable by the microscope PC (and a raw folder may be by its group), so
a name seen in a scan may be a symlink by the time we open or remove it. Folders and files
are reached by directory descriptors with ``O_NOFOLLOW`` (:mod:`emhub_worker_core.guard`):
a symlink swapped in anywhere along the path is refused, never followed.

Rules, shared by ``transfer`` and ``monitor``: hidden names (EPU/rsync temporaries, our
own ``.emworker-*``), symlinks and special files are left out; a name that vanishes between
listing and use is skipped silently; a folder or file we may not read is a *problem*
(reported with its path, looked at again on the next scan), never taken for "not there yet".
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from emhub_worker_core.guard import (
    DIR_FLAGS,
    MAX_DEPTH,
    Skipped,
    open_subdir,
    walk_files,
)
from emhub_worker_core.guard import walk_dirs_bottom_up as walk_dirs_below


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

    def problem(skipped: Skipped) -> None:
        if skipped.kind == "error" and skipped.error is not None:
            where = root if skipped.rel == "." else root / skipped.rel
            result.problems.append(f"{where}: {skipped.error.strerror}")
        elif skipped.kind == "too deep":
            result.problems.append(f"{root / skipped.rel}: deeper than {MAX_DEPTH} "
                                   "folders")

    try:
        result.files = list(walk_files(fd, problem))
    finally:
        os.close(fd)
    return result


def walk_dirs_bottom_up(root: Path) -> Iterator[tuple[int, str]]:
    """(parent descriptor, name) of every non-hidden real folder under ``root``, children
    first; the descriptor is valid until the next item."""
    try:
        fd = os.open(root, DIR_FLAGS)
    except OSError:
        return
    try:
        yield from walk_dirs_below(fd)
    finally:
        os.close(fd)


class SourceDirs:
    """Descriptors of the folders of one session tree used in one transfer step (opened
    once each, every component with ``O_NOFOLLOW``; created first when ``create``).

    Only the task thread opens them (before handing a file to a copier); they are closed
    when the step ends, after every copy of the step has finished.
    """

    def __init__(self, root: Path, max_open: int = 128, *, create: bool = False,
                 root_fd: int | None = None) -> None:
        self.root = root
        self.max_open = max_open   # a session has thousands of folders; fds are limited
        self.create = create
        # root_fd: ``root`` already opened as checked by the caller (now ours to close)
        self._fds: dict[str, int] = {} if root_fd is None else {"": root_fd}
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
            parent_fd = self.folder(parent)
            # 0o777 as makedirs: the umask decides
            fd = open_subdir(parent_fd, name, create=self.create, mode=0o777)
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
            for folder in [f for f in self._fds if f and f not in self._held]:
                os.close(self._fds.pop(folder))

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
