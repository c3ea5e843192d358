"""Commit one group of copies: sync, check from storage, record, then move.

The order is what makes a kill at any moment lose nothing: the copies' data and renames
are on disk before their record (one ``syncfs`` for small files, an fsync of their
folders for movies fsync'd by their copier); the records are on disk before any source
is removed; a copy that fails its check is removed, and an unrecorded file in the
destination is never trusted (copied again).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .copier import Copied, check_stored, discard, sync_filesystem
from .manifest import Entry, Manifest
from .repair import Logger, remove_source
from .settings import TransferSettings
from .walk import SourceDirs


@dataclass
class Candidate:
    rel: str
    size: int
    mtime_ns: int


@dataclass
class StepResult:
    new_files: int = 0
    new_movies: int = 0
    pending: int = 0          # files seen but not settled yet
    errors: list[str] = field(default_factory=list)           # destination trouble
    source_problems: list[str] = field(default_factory=list)  # retried on a later scan


Group = list[tuple[Candidate, Copied]]


def commit_group(group: Group, dest: Path, manifest: Manifest, settings: TransferSettings,
                 clock: Callable[[], float], dirs: SourceDirs, result: StepResult,
                 logger: Logger) -> list[Entry]:
    """Sync, check, record ``group``; then remove the movies' sources. The entries
    recorded (trouble goes to ``result``: those copies are removed, copied again later)."""
    # small files' data and every rename so far, before any record (whatever ``verify``
    # says) and before reading back from storage
    synced = any(not copied.durable for _c, copied in group)
    try:
        if synced:
            sync_filesystem(dest)
    except OSError as exc:
        for _cand, copied in group:
            discard(copied.name, copied.dir_fd)
        result.errors.append(f"syncing {dest}: {exc.strerror or exc}")
        return []
    verified: list[tuple[Entry, Copied]] = []
    at = clock()
    folders: set[int] = set()
    unchecked = [copied for _cand, copied in group if not copied.verified]
    checks = dict(zip((id(c) for c in unchecked), check_stored(
        [(c.dir_fd, c.name, c.path, c.size, c.digest) for c in unchecked],
        settings.checksum, settings.chunk_kib * 1024)))
    for cand, copied in group:
        problem = checks.get(id(copied))
        if problem is not None:
            discard(copied.name, copied.dir_fd)
            result.errors.append(str(problem))
            continue
        folders.add(copied.dir_fd)
        verified.append((Entry(cand.rel, copied.size, copied.mtime_ns, copied.digest,
                               settings.is_movie(cand.rel), at, algorithm=settings.checksum,
                               source_dev=copied.inode[0], source_ino=copied.inode[1]),
                         copied))
    if not verified:
        return []
    entries = [entry for entry, _copied in verified]
    try:  # renames on disk before a record; records before any source removal
        for folder in folders if not synced else ():  # syncfs covered the renames
            os.fsync(folder)
        manifest.add_all(entries)
        manifest.sync()
    except OSError as exc:  # unrecorded copies are not trusted: copied again later
        result.errors.append(f"recording the batch in {manifest.path}: {exc}")
        manifest.close()  # reopened (and re-read) on the next pass
        return []
    moved = [entry.path for entry, copied in verified
             if entry.movie and remove_source(entry, dirs, copied.inode, logger)]
    try:
        manifest.mark_all_moved(moved)
        manifest.sync()
    except OSError as exc:  # the sources are gone, the copies recorded: nothing lost
        logger.warning("recording moves in %s: %s", manifest.path, exc)
    return entries
