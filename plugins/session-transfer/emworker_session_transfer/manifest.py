"""The transfer manifest: an append-only JSON-lines log kept in the destination.

A file counts as transferred only once its ``copied`` record is in the manifest, and a
movie's source is removed only after that record is on disk. Files found in the
destination without a record are not trusted (they are copied again).

The destination may be writable by others (a group that owns its raw folder), so the
manifest is opened without following links and a record is not trusted as it stands: a
path that is absolute, has ``..`` or a control character is refused (the record is left
out, that file copied again), and a movie's source is removed only if it is still the
inode recorded when it was copied.
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from emhub_worker_core.guard import DIR_FLAGS, has_control, open_regular, open_subdir

MANIFEST_DIR = ".emworker-transfer"
MANIFEST_NAME = "manifest.jsonl"


@dataclass
class Entry:
    path: str        # relative to the session folders
    size: int
    mtime_ns: int
    digest: str      # hex checksum of the bytes copied
    movie: bool
    at: float        # when it was verified (our clock)
    moved: bool = False  # the source was removed (movies only)
    algorithm: str = "sha256"  # by name; records written before it existed are sha256
    # The source's (st_dev, st_ino) when it was copied: required to remove it later.
    # Records written before it existed have none; such a movie is transferred again.
    source_dev: int | None = None
    source_ino: int | None = None

    @property
    def mtime(self) -> float:
        return self.mtime_ns / 1e9


class Manifest:
    def __init__(self, dest: Path) -> None:
        self.path = dest / MANIFEST_DIR / MANIFEST_NAME
        self.entries: dict[str, Entry] = {}
        self._fd: int | None = None
        self._dirty = False
        self.refused: list[str] = []   # paths of records not trusted, last open

    def open(self, dest_fd: int | None = None) -> None:
        """Read what is recorded (a torn last line is ignored) and open for appending;
        ``dest_fd``: the destination folder, from which nothing is followed."""
        own = dest_fd is None
        if dest_fd is None:
            dest_fd = os.open(self.path.parent.parent, DIR_FLAGS)
        try:
            folder = open_subdir(dest_fd, MANIFEST_DIR, create=True)
        finally:
            if own:
                os.close(dest_fd)
        try:
            fd = open_regular(folder, MANIFEST_NAME, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        finally:
            os.close(folder)
        try:
            self.entries.clear()
            self.refused = []
            for record in _records(fd):
                self._apply(record)
            _cut_torn_tail(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def is_open_here(self) -> bool:
        """False when the destination was removed or replaced under us."""
        if self._fd is None:
            return False
        try:
            return os.fstat(self._fd).st_ino == os.stat(self.path).st_ino
        except OSError:
            return False

    def _apply(self, record: dict[str, Any]) -> None:
        kind = record.pop("op", "")
        if not trusted_path(record["path"]):
            self.refused.append(record["path"])
            return
        if kind == "copied":
            if "sha256" in record:  # the first format: sha256 under its own name
                record["digest"] = record.pop("sha256")
                record.setdefault("algorithm", "sha256")
            known = {k: v for k, v in record.items() if k in Entry.__dataclass_fields__}
            try:
                self.entries[record["path"]] = Entry(**known)
            except TypeError:
                pass  # a record missing fields is not trusted: that file is copied again
        elif kind == "moved" and record.get("path") in self.entries:
            self.entries[record["path"]].moved = True

    def add(self, entry: Entry) -> None:
        self.add_all([entry])

    def add_all(self, entries: list[Entry]) -> None:
        """Record a batch with one write (all or, on error, none of it)."""
        self._append(*(_copied_record(entry) for entry in entries))
        for entry in entries:
            self.entries[entry.path] = entry

    def mark_moved(self, rel: str) -> None:
        self.mark_all_moved([rel])

    def mark_all_moved(self, rels: list[str]) -> None:
        if rels:
            self._append(*({"op": "moved", "path": rel} for rel in rels))
            for rel in rels:
                self.entries[rel].moved = True

    def _append(self, *records: dict[str, Any]) -> None:
        assert self._fd is not None, "manifest not open"
        line = b"".join((json.dumps(record, separators=(",", ":")) + "\n").encode()
                        for record in records)
        end = os.fstat(self._fd).st_size
        try:
            if os.write(self._fd, line) != len(line):  # a full disk writes part of it
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            os.ftruncate(self._fd, end)  # never leave half a record for the next one
            raise
        self._dirty = True

    def sync(self) -> None:
        """Make every appended record durable (one fsync per batch, not per file)."""
        if self._fd is not None and self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def close(self) -> None:
        if self._fd is not None:
            try:
                self.sync()
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None


def _copied_record(entry: Entry) -> dict[str, Any]:
    """The record of one file (by hand: ``dataclasses.asdict`` costs ~0.1 ms a file)."""
    return {"op": "copied", "path": entry.path, "size": entry.size,
            "mtime_ns": entry.mtime_ns, "digest": entry.digest, "movie": entry.movie,
            "at": entry.at, "moved": entry.moved, "algorithm": entry.algorithm,
            "source_dev": entry.source_dev, "source_ino": entry.source_ino}


def trusted_path(path: str) -> bool:
    """A recorded path relative to the session folders: not absolute, no ``..`` (nor
    ``.`` or an empty component), no control character."""
    return bool(path) and not path.startswith("/") and not has_control(path) \
        and not any(part in ("", ".", "..") for part in path.split("/"))


def _records(fd: int) -> Iterator[dict[str, Any]]:
    with os.fdopen(os.dup(fd), "rb") as fh:
        fh.seek(0)
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash: that file was never counted
            if isinstance(record, dict) and isinstance(record.get("path"), str):
                yield record


def _cut_torn_tail(fd: int) -> None:
    """Drop a last line a crash left unfinished, so the next record starts clean."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    start = max(0, size - (1 << 20))
    tail = os.pread(fd, size - start, start)
    os.ftruncate(fd, start + tail.rfind(b"\n") + 1 if b"\n" in tail else start)
