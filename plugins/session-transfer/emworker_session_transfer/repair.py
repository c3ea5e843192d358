"""Put a destination right after a crash, before a transfer step runs again.

What a kill can leave: our temp files (removed by name, no link followed), and movies
recorded as verified whose source is still on the share (removed now, once the copy still
has its recorded checksum, is not the source itself, and the source is still the inode
that was copied). Also the one rule for removing a movie's source, which a group's commit
uses too.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path
from typing import Union

from emhub_worker_core.guard import open_regular_stat, same_file, unlink_same, walk_entries

from .checksum import file_digest
from .copier import TEMP_PREFIX, buffer
from .manifest import Entry, Manifest
from .walk import SourceDirs

Logger = Union["logging.LoggerAdapter[logging.Logger]", logging.Logger]


def remove_temp_files(dest: Path, dest_fd: int) -> None:
    """Our leftover temp files (names are ours: removed by name, no link followed)."""
    temps = [rel for rel, entry in walk_entries(dest_fd, skip_hidden=False)
             if entry.name.startswith(TEMP_PREFIX)]
    dirs = SourceDirs(dest, root_fd=os.dup(dest_fd))
    try:
        for rel in temps:
            dir_fd, name = dirs.locate(rel)
            os.unlink(name, dir_fd=dir_fd)
    finally:
        dirs.close()


def finish_moves(manifest: Manifest, frames: Path, dest: Path, dest_fd: int, chunk: int,
                 logger: Logger) -> None:
    """Movies verified before a crash whose source is still there: remove it now, once
    the copy still has the recorded checksum (any recorded algorithm), is not the source
    itself, and the source is still the inode that was copied."""
    dirs = SourceDirs(frames)
    copies = SourceDirs(dest, root_fd=os.dup(dest_fd))
    moved: list[str] = []
    try:
        for entry in list(manifest.entries.values()):
            if not entry.movie or entry.moved:
                continue
            inode = recorded_inode(entry)
            if inode is None or not _copy_intact(entry, copies, dirs, chunk, logger):
                del manifest.entries[entry.path]  # transferred again
                continue
            if remove_source(entry, dirs, inode, logger):
                moved.append(entry.path)
    finally:
        dirs.close()
        copies.close()
    manifest.mark_all_moved(moved)
    manifest.sync()


def _copy_intact(entry: Entry, copies: SourceDirs, sources: SourceDirs, chunk: int,
                 logger: Logger) -> bool:
    """The recorded copy is there, a separate file from the source, with its checksum."""
    try:
        dir_fd, name = copies.locate(entry.path)
        fd, copy_st = open_regular_stat(dir_fd, name)
    except OSError:
        return False
    try:
        if _is_source(entry, copy_st, sources):
            logger.warning("%s: the recorded copy is the source itself; not a copy",
                           entry.path)
            return False
        digest, size = file_digest(fd, entry.algorithm, buffer(chunk))
    except ValueError:  # an algorithm this version does not know
        return False
    finally:
        os.close(fd)
    return (digest, size) == (entry.digest, entry.size)


def _is_source(entry: Entry, copy_st: os.stat_result, sources: SourceDirs) -> bool:
    if (copy_st.st_dev, copy_st.st_ino) == recorded_inode(entry):
        return True
    try:
        dir_fd, name = sources.locate(entry.path)
        return same_file(copy_st, os.stat(name, dir_fd=dir_fd, follow_symlinks=False))
    except OSError:
        return False


def remove_source(entry: Entry, dirs: SourceDirs, inode: tuple[int, int],
                  logger: Logger) -> bool:
    """True when the source is gone now (removed, or already gone)."""
    try:
        dir_fd, name = dirs.locate(entry.path)
        if unlink_same(dir_fd, name, *inode, size=entry.size, mtime_ns=entry.mtime_ns):
            return True
        logger.warning("%s changed since it was copied: left in place", entry.path)
        return False
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return True
        logger.warning("%s not removed from the frames folder: %s", entry.path,
                       exc.strerror)
        return False


def recorded_inode(entry: Entry) -> tuple[int, int] | None:
    """The source's (device, inode) as recorded when it was copied (None: not recorded)."""
    dev, ino = entry.source_dev, entry.source_ino
    if isinstance(dev, int) and isinstance(ino, int):
        return dev, ino
    return None
