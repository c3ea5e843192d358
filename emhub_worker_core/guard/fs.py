"""Files below a folder someone else can write, reached by directory descriptors.

The microscope PC writes the frames share and a job user writes its workflow's folder, so a
name seen a moment ago may be a symlink now. Every folder here is opened relative to its
parent's descriptor with ``O_DIRECTORY | O_NOFOLLOW`` and every file relative to its
folder's descriptor with ``O_NOFOLLOW``: a link anywhere below the (admin-configured) root
is refused, never followed. Only regular files are opened; FIFOs and devices are refused
without blocking. Descriptors returned here are the caller's to close.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, Union

from .paths import PathRefused, StrPath, has_control

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # NONBLOCK: a FIFO never hangs us
#: Gone, or replaced by a link since it was listed (ELOOP/ENOTDIR under ``O_NOFOLLOW``).
VANISHED = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
MAX_DEPTH = 64

DirRef = Union[int, StrPath]


class NotRegular(OSError):
    """The name is a link, a folder, a FIFO or a device where a regular file was expected."""


def same_file(a: os.stat_result, b: os.stat_result) -> bool:
    """Same device and inode: the one file, whatever names or links lead to it."""
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def relative_parts(path: Union[StrPath, Sequence[str]], root: StrPath) -> list[str]:
    """The components of ``path`` below ``root`` (``path`` absolute inside it, relative to
    it, or already split); refuses ``..``, ``.``, empty and control-character components."""
    if isinstance(path, (str, os.PathLike)):
        text = os.fspath(path)
        if os.path.isabs(text):
            text = _below(os.path.normpath(text), os.fspath(root))
        parts = [p for p in text.split("/") if p not in ("", ".")]
    else:
        parts = list(path)
    for part in parts:
        if not part or part in (".", "..") or "/" in part or has_control(part):
            raise PathRefused(f"unsafe path component {part!r}")
    return parts


def _below(path: str, root: str) -> str:
    """``path`` relative to ``root`` as written or as resolved (a configured root may be a
    link, and :func:`~emhub_worker_core.guard.confine` returns resolved paths)."""
    for base in (os.path.normpath(root), os.path.realpath(root)):
        rel = os.path.relpath(path, base)
        if rel.split("/")[0] != "..":
            return "" if rel == "." else rel
    raise PathRefused(f"{path!r} is not below {root}")


def open_dir(path: Union[StrPath, Sequence[str]], *, root: StrPath, create: bool = False,
             mode: int = 0o755) -> int:
    """Descriptor of the folder ``path`` below ``root``: ``root`` opened as configured,
    then each component with ``O_DIRECTORY | O_NOFOLLOW`` from there (created first when
    ``create``). A link on the way raises ``OSError`` (ELOOP or ENOTDIR)."""
    parts = relative_parts(path, root)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            sub = open_subdir(fd, part, create=create, mode=mode)
            os.close(fd)
            fd = sub
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_subdir(dir_fd: int, name: str, *, create: bool = False, mode: int = 0o755) -> int:
    """Descriptor of the folder ``name`` in ``dir_fd``, opened ``O_DIRECTORY | O_NOFOLLOW``
    (made first with ``mode`` and the umask when ``create`` and missing)."""
    if create:
        try:
            os.mkdir(name, mode, dir_fd=dir_fd)
        except FileExistsError:
            pass
    return os.open(name, DIR_FLAGS, dir_fd=dir_fd)


def open_regular(dir_fd: int, name: str, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
    """Open ``name`` in ``dir_fd`` with ``O_NOFOLLOW``; a link, FIFO, device or folder is
    refused (:class:`NotRegular`, or ``OSError`` ELOOP for a link)."""
    return open_regular_stat(dir_fd, name, flags, mode)[0]


def open_regular_stat(dir_fd: int, name: str, flags: int = os.O_RDONLY,
                      mode: int = 0o644) -> tuple[int, os.stat_result]:
    """:func:`open_regular`, and the ``fstat`` of what was opened."""
    fd = os.open(name, flags | FILE_FLAGS, mode, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegular(errno.EINVAL, f"{name!r} is not a regular file")
    return fd, st


def unlink_same(dir_fd: int, name: str, dev: int, ino: int, *,
                size: Optional[int] = None, mtime_ns: Optional[int] = None) -> bool:
    """Remove ``name`` from ``dir_fd`` only if it is still the regular file ``(dev, ino)``
    (and, when given, still has ``size`` and ``mtime_ns``); False if it is not."""
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (dev, ino):
        return False
    if (size is not None and st.st_size != size) or \
            (mtime_ns is not None and st.st_mtime_ns != mtime_ns):
        return False
    os.unlink(name, dir_fd=dir_fd)
    return True


@dataclass(frozen=True)
class Skipped:
    """An entry :func:`walk_files` did not follow or could not read."""

    rel: str        # path relative to the walked folder
    kind: str       # "link", "special", "error", "too deep"
    error: Optional[OSError] = None


def walk_files(dir_fd: int, onerror: Optional[Callable[[Skipped], None]] = None, *,
               skip_hidden: bool = True, max_depth: int = MAX_DEPTH,
               ) -> Iterator[tuple[str, os.stat_result]]:
    """``(relative path, lstat)`` of every regular file below ``dir_fd``, sorted by name
    within each folder, files before subfolders. Links and special files are never
    followed: they go to ``onerror`` (kind "link" / "special"), as do folders and files
    that cannot be read ("error") and folders deeper than ``max_depth``. A name that
    vanishes between listing and use is left out silently. Hidden names (a leading dot:
    EPU and rsync temporaries, our own temp files) are left out when ``skip_hidden``."""
    report = onerror or (lambda _s: None)
    for rel, entry in walk_entries(dir_fd, report, skip_hidden=skip_hidden,
                                   max_depth=max_depth):
        try:
            yield rel, entry.stat(follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in VANISHED:
                report(Skipped(rel, "error", exc))


def walk_entries(dir_fd: int, onerror: Optional[Callable[[Skipped], None]] = None, *,
                 skip_hidden: bool = True, max_depth: int = MAX_DEPTH,
                 ) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """:func:`walk_files` without the ``lstat`` of each file (the listing's file type
    only): ``(relative path, entry)``, each entry usable while the walk is at it."""
    report = onerror or (lambda _s: None)
    yield from _walk(dir_fd, "", 0, report, skip_hidden, max_depth)


def _walk(fd: int, rel_dir: str, depth: int, report: Callable[[Skipped], None],
          skip_hidden: bool, max_depth: int) -> Iterator[tuple[str, os.DirEntry[str]]]:
    try:
        with os.scandir(fd) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        report(Skipped(rel_dir or ".", "error", exc))
        return
    subdirs: list[str] = []
    for entry in entries:
        if skip_hidden and entry.name.startswith("."):
            continue
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        try:  # the entry's type comes with the listing (no system call)
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            elif entry.is_file(follow_symlinks=False):
                yield rel, entry
            elif entry.is_symlink():
                report(Skipped(rel, "link"))
            else:
                report(Skipped(rel, "special"))
        except OSError as exc:
            if exc.errno not in VANISHED:
                report(Skipped(rel, "error", exc))
    for name in subdirs:
        rel = f"{rel_dir}/{name}" if rel_dir else name
        if depth >= max_depth:
            report(Skipped(rel, "too deep"))
            continue
        try:
            sub = os.open(name, DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:   # swapped for a link since the listing
                report(Skipped(rel, "link"))
            elif exc.errno not in VANISHED:
                report(Skipped(rel, "error", exc))
            continue
        try:
            yield from _walk(sub, rel, depth + 1, report, skip_hidden, max_depth)
        finally:
            os.close(sub)


def walk_dirs_bottom_up(dir_fd: int, *, skip_hidden: bool = True,
                        max_depth: int = MAX_DEPTH) -> Iterator[tuple[int, str]]:
    """``(parent descriptor, name)`` of every real folder below ``dir_fd``, children
    first (for removing empty folders); each descriptor is valid until the next item.
    A folder that cannot be listed or opened is passed over in silence: it could not be
    removed either, and nothing in it is lost."""
    try:
        with os.scandir(dir_fd) as listing:
            names = sorted(e.name for e in listing
                           if not (skip_hidden and e.name.startswith("."))
                           and e.is_dir(follow_symlinks=False))
    except OSError:
        return
    for name in names:
        try:
            sub = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
        except OSError:
            continue
        try:
            if max_depth > 0:
                yield from walk_dirs_bottom_up(sub, skip_hidden=skip_hidden,
                                               max_depth=max_depth - 1)
        finally:
            os.close(sub)
        yield dir_fd, name


class _Folder:
    """A folder given as a descriptor (borrowed) or a path (opened, not a link, closed)."""

    def __init__(self, where: DirRef) -> None:
        if isinstance(where, int):
            self.fd, self.owned = where, False
        else:
            self.fd, self.owned = os.open(Path(where), DIR_FLAGS), True

    def __enter__(self) -> int:
        return self.fd

    def __exit__(self, *_exc: object) -> None:
        if self.owned:
            os.close(self.fd)
