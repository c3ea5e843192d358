"""The OTF folder: created once, with what a workflow needs, and moved aside on ``clear``.

Layout: ``data`` (a link to the raw folder), the gain reference when one is configured,
``otf_params.json`` (the session's acquisition settings) and the live feed ``movies.txt``.
Nothing here ever deletes: ``clear`` renames the old folder next to itself.

The job user can write this folder, so it is reached by descriptors from the OTF root and
no name in it is followed: files are written to a unique temporary name and renamed over
(a planted link is replaced, never written through) and read only as regular files.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import json
import os
import stat
from pathlib import Path
from typing import Any, Iterator

from emhub_worker_core.guard import atomic_write, open_dir, read_bounded

from .feed import MovieFeed
from .inputs import OtfTarget

PARAMS_NAME = "otf_params.json"
GAIN_MAX_BYTES = 1 << 30  # a gain reference is tens of MB; anything larger is not one


@contextlib.contextmanager
def otf_dir(target: OtfTarget, create: bool = False) -> Iterator[int]:
    """A descriptor of the OTF folder, opened from the OTF root without following links."""
    if create:
        os.makedirs(target.otf_root, exist_ok=True)  # the admin's path: made as configured
    fd = open_dir(target.otf_path, root=target.otf_root, create=create)
    try:
        yield fd
    finally:
        os.close(fd)


def _gain_source(target: OtfTarget) -> tuple[bytes, str] | None:
    """Content and name of the newest regular file matching the gain pattern: in the raw
    folder first (reached without links: the microscope PC writes it), else where the
    pattern says (the admin's configuration)."""
    if not target.gain_pattern:
        return None
    pattern = target.gain_pattern.replace("{microscope}", target.microscope)
    name_glob = os.path.basename(pattern)
    candidates = [(str(target.raw_path), os.path.basename(c))
                  for c in glob.glob(glob.escape(str(target.raw_path)) + "/" + name_glob)]
    if not candidates and os.path.isabs(pattern):
        candidates = [(os.path.dirname(c), os.path.basename(c)) for c in glob.glob(pattern)]
    best: tuple[float, bytes, str] | None = None
    for folder, name in candidates:
        try:
            fd = open_dir(folder, root=target.raw_root) \
                if folder == str(target.raw_path) else os.open(folder, os.O_RDONLY
                                                               | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if best is None or st.st_mtime > best[0]:
                data = read_bounded(fd, name, GAIN_MAX_BYTES)  # a link is refused
                best = (st.st_mtime, data, name)
        except OSError:
            continue
        finally:
            os.close(fd)
    return (best[1], best[2]) if best else None


def create_otf_folder(target: OtfTarget) -> dict[str, Any]:
    """Make the folder (idempotent for a half-made one); return the parameters written."""
    otf = target.otf_path
    with otf_dir(target, create=True) as fd:
        if not _entry_exists(fd, "data"):
            os.symlink(target.raw_path, "data", target_is_directory=True, dir_fd=fd)
        gain = _gain_source(target)
        gain_copy = ""
        if gain is not None:
            data, name = gain
            if not _regular_with_size(fd, name, len(data)):
                atomic_write(fd, name, data)
            gain_copy = str(otf / name)
        params = {"session_id": target.session_id, "session_name": target.session_name,
                  "microscope": target.microscope, "raw_path": str(target.raw_path),
                  "otf_path": str(otf), "workflow": target.workflow.name,
                  "acquisition": dict(target.acquisition), "gain": gain_copy,
                  "movies_list": str(otf / "movies.txt")}
        atomic_write(fd, PARAMS_NAME,
                     (json.dumps(params, indent=1, default=str) + "\n").encode())
    feed = MovieFeed(target.otf_path, target.otf_root)
    if not feed.exists():
        feed.write()
    return params


def _entry_exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _regular_with_size(dir_fd: int, name: str, size: int) -> bool:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == size


def move_aside(target: OtfTarget, now: datetime.datetime | None = None) -> Path | None:
    """Rename the OTF folder to ``<name>.cleared-<time>`` (in its parent, reached without
    links; the folder itself is renamed, never followed); None when there is none."""
    otf = target.otf_path
    try:
        parent = open_dir(otf.parent, root=target.otf_root) \
            if otf.parent != target.otf_root \
            else os.open(target.otf_root, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return None
    try:
        if not _entry_exists(parent, otf.name):
            return None
        stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
        name, n = f"{otf.name}.cleared-{stamp}", 1
        while _entry_exists(parent, name):
            name, n = f"{otf.name}.cleared-{stamp}-{n}", n + 1
        os.rename(otf.name, name, src_dir_fd=parent, dst_dir_fd=parent)
        return otf.with_name(name)
    finally:
        os.close(parent)

