"""Reading one directory: the per-file hot loop of a scan, run in the scanner's threads.

It touches no shared state (it returns what it found), so several can run at once: each
``fstatat`` releases the GIL, so while one thread waits in the kernel (for the inode, on a
cold cache or a network share) another runs its Python.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat as stat_mod
from typing import Any, Callable, ContextManager, Dict, Iterable, Iterator, List, NamedTuple

from emhub_worker_core.guard import DIR_FLAGS

ListFn = Callable[[str], ContextManager[Iterable[Any]]]  # path -> os.DirEntry-like items
_FILE_TYPE_MASK = stat_mod.S_IFMT(0o177777)
_REGULAR_FILE = stat_mod.S_IFREG
# O_NOFOLLOW: a folder swapped for a link after its parent was listed is not listed.
_DIR_FLAGS = DIR_FLAGS


#: Where the kernel names what a descriptor is open on (absent: not Linux, no /proc).
_FD_NAMES = "/proc/self/fd"
_CHECK_WHERE = os.path.isdir(_FD_NAMES)


@contextlib.contextmanager
def list_directory(path: str) -> Iterator[Iterable[os.DirEntry[str]]]:
    """``os.scandir`` on an open directory descriptor: each entry's ``stat()`` is then an
    ``fstatat`` relative to it, which spares the kernel a walk down the whole path.
    ``path`` must hold no link (scans start from the root's real path): see
    :func:`_opened_at`."""
    fd = os.open(path, _DIR_FLAGS)
    try:
        if _CHECK_WHERE:
            _opened_at(fd, path)
        with os.scandir(fd) as listing:
            yield listing
    finally:
        os.close(fd)


def real_root(root: str) -> str:
    """``root`` as the kernel names it: links *above* the root (the admin's) resolved; the
    root itself must not be one (opened with ``O_NOFOLLOW``, as every folder below)."""
    if not _CHECK_WHERE:
        return root
    fd = os.open(root, _DIR_FLAGS)
    try:
        return _kernel_name(fd)
    finally:
        os.close(fd)


def _kernel_name(fd: int) -> str:
    return os.readlink(f"{_FD_NAMES}/{fd}")


def _opened_at(fd: int, path: str) -> None:
    """``O_NOFOLLOW`` guards only the last name of ``path``: the share can swap a folder
    above it for a link between its listing and this open, and the walk would go on
    below the link's target. What the kernel says ``fd`` is open on must be ``path``."""
    where = _kernel_name(fd)
    if where == path:
        return
    if where.endswith(" (deleted)"):
        raise FileNotFoundError(errno.ENOENT, "removed while being listed", path)
    raise OSError(errno.ELOOP, "a folder above it became a link during the scan; not listed")


class Listing(NamedTuple):
    """What one read of a directory found (files directly in it, names of subfolders)."""

    file_names: List[str]          # regular files, for the movie count (not kept)
    size: int
    newest: float                  # newest file mtime, 0.0 if none
    subdirs: Dict[str, Any]        # name -> the child's previous node (None if new)
    problems: List[str]
    readable: bool = True


def read_directory(listdir: ListFn, path: str, old_children: Dict[str, Any]) -> Listing:
    """List ``path``: one ``lstat`` per entry that is not a directory (d_type says which)."""
    names: List[str] = []
    subdirs: Dict[str, Any] = {}
    problems: List[str] = []
    size = 0
    newest = 0.0
    try:
        with listdir(path) as listing:
            for entry in listing:  # the hot loop of a full scan: kept minimal
                try:
                    if entry.is_dir(follow_symlinks=False):
                        subdirs[entry.name] = old_children.get(entry.name)
                        continue
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # written and removed (temp file) while we looked
                except OSError as exc:
                    problems.append(describe(os.path.join(path, entry.name), exc))
                    continue
                if st.st_mode & _FILE_TYPE_MASK != _REGULAR_FILE:
                    continue  # symlinks, sockets, fifos: not data
                size += st.st_size
                if st.st_mtime > newest:
                    newest = st.st_mtime
                names.append(entry.name)
    except FileNotFoundError:
        return Listing([], 0, 0.0, {}, problems)
    except OSError as exc:
        problems.append(describe(path, exc))
        return Listing([], 0, 0.0, {}, problems, readable=False)
    return Listing(names, size, newest, subdirs, problems)


def describe(path: str, exc: BaseException | str) -> str:
    text = exc if isinstance(exc, str) else (getattr(exc, "strerror", None) or str(exc))
    return f"{path}: {text}"
