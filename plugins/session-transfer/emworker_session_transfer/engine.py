"""Transfer one session folder: scan, settle, copy in parallel, record, then move.

Order per file: copy to a temp name + checksum -> fsync -> verify -> rename -> manifest
record (fsync'd per batch, with the directories) -> only then remove a movie's source.
Killed anywhere, :meth:`SessionTransfer.open` puts things right on the next start.
"""

from __future__ import annotations

import errno
import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Union

from .copier import (
    TEMP_PREFIX,
    Copied,
    DestinationError,
    SourceGone,
    copy_verified,
    fsync_dir,
    sync_filesystem,
)
from .manifest import MANIFEST_DIR, Entry, Manifest
from .settings import TransferSettings
from .settle import SettleTracker

Logger = Union["logging.LoggerAdapter[logging.Logger]", logging.Logger]


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
    errors: list[str] = field(default_factory=list)


class SessionTransfer:
    def __init__(self, frames: Path, dest: Path, dest_root: Path, settings: TransferSettings,
                 clock: Callable[[], float], logger: Logger) -> None:
        self.frames, self.dest, self.dest_root = frames, dest, dest_root
        self.settings, self.clock, self.logger = settings, clock, logger
        self.settle = SettleTracker(settings.quiet_seconds)
        self.manifest = Manifest(dest)
        self.pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="transfer")
        self.last_activity = clock()
        self.first_activity: float | None = None

    # -- start / resume -------------------------------------------------------------------
    def open(self) -> None:
        """Open (or reopen) the destination and repair what a crash left behind."""
        if not self.dest_root.is_dir():  # an unmounted storage root must not be recreated
            raise DestinationError(errno.ENOENT, f"destination root {self.dest_root} is missing")
        try:
            self.dest.mkdir(parents=True, exist_ok=True)
            self.manifest.close()
            self.manifest.open()
            self._remove_temp_files()
            self._finish_moves()
        except DestinationError:
            raise
        except OSError as exc:
            raise DestinationError(exc.errno, f"destination {self.dest}: {exc.strerror}") from exc
        times = [e.at for e in self.manifest.entries.values()]
        if times:  # the stop rules survive restarts: they count from recorded times
            self.first_activity = min(times)
            self.last_activity = max(times)

    def _remove_temp_files(self) -> None:
        for folder, _dirs, names in os.walk(self.dest):
            for name in names:
                if name.startswith(TEMP_PREFIX):
                    os.unlink(os.path.join(folder, name))

    def _finish_moves(self) -> None:
        """Movies verified before a crash whose source is still there: remove it now."""
        for entry in list(self.manifest.entries.values()):
            if entry.movie and not entry.moved:
                self._remove_source(entry)
        self.manifest.sync()

    def _remove_source(self, entry: Entry) -> None:
        src = self.frames / entry.path
        try:
            st = os.stat(src)
        except FileNotFoundError:
            self.manifest.mark_moved(entry.path)
            return
        dst = self.dest / entry.path
        unchanged = (st.st_size, st.st_mtime_ns) == (entry.size, entry.mtime_ns)
        if unchanged and dst.is_file() and dst.stat().st_size == entry.size:
            os.unlink(src)
            self.manifest.mark_moved(entry.path)
        else:  # changed since, or the copy is gone: transfer it again
            del self.manifest.entries[entry.path]

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.manifest.close()

    # -- one pass -------------------------------------------------------------------------
    def scan(self) -> tuple[list[Candidate], int]:
        """Settled files not transferred yet, and how many are still settling."""
        now = self.clock()
        present: list[str] = []
        ready: list[Candidate] = []
        for rel, st in _walk_files(self.frames):
            done = self.manifest.entries.get(rel)
            if done is not None and (done.size, done.mtime_ns) == (st.st_size, st.st_mtime_ns):
                continue
            present.append(rel)
            if self.settle.observe(rel, st.st_size, st.st_mtime_ns, now):
                ready.append(Candidate(rel, st.st_size, st.st_mtime_ns))
        self.settle.keep_only(present)
        if present:
            self.last_activity = now
        return ready, len(present) - len(ready)

    def transfer(self, ready: list[Candidate], on_batch: Callable[[int, int], None],
                 stopping: Callable[[], bool] = lambda: False) -> StepResult:
        """Copy ``ready`` files in batches; ``on_batch(new_files, new_movies)`` after each.

        ``stopping`` is polled between files: copies not started yet are dropped, the
        ones under way finish and are recorded, so a shutdown waits for little.
        """
        result = StepResult()
        if not self.manifest.is_open_here():
            self.open()
        for start in range(0, len(ready), self.settings.batch):
            if stopping():
                break
            files, movies = self._batch(ready[start:start + self.settings.batch], result,
                                        stopping)
            result.new_files += files
            result.new_movies += movies
            if files:
                on_batch(files, movies)
            if result.errors:
                break  # the destination is in trouble: back off, keep the rest for later
        return result

    def _batch(self, batch: list[Candidate], result: StepResult,
               stopping: Callable[[], bool]) -> tuple[int, int]:
        chunk = self.settings.chunk_kib * 1024
        folders: set[Path] = set()
        jobs: list[tuple[Candidate, Future[Copied]]] = []
        for cand in batch:
            target = self.dest / cand.rel
            if target.parent not in folders:
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    result.errors.append(f"cannot create {target.parent}: {exc.strerror}")
                    break
                folders.add(target.parent)
            durable = self.settings.is_movie(cand.rel) or \
                cand.size >= self.settings.durable_min_bytes
            jobs.append((cand, self.pool.submit(
                copy_verified, self.frames / cand.rel, target, chunk=chunk,
                verify=self.settings.verify, durable=durable,
                delay=self.settings.test_chunk_delay)))
        verified: list[Entry] = []
        for cand, future in jobs:
            self.settle.forget(cand.rel)
            if stopping() and future.cancel():
                continue
            try:
                done = future.result()
            except SourceGone as exc:
                self.logger.info("not copied now: %s", exc)
                continue
            except DestinationError as exc:
                result.errors.append(str(exc))
                continue
            verified.append(Entry(cand.rel, done.size, done.mtime_ns, done.sha256,
                                  self.settings.is_movie(cand.rel), self.clock()))
        if not verified:
            return 0, 0
        recorded: list[Entry] = []
        try:  # data and renames on disk before a record; records before any source removal
            sync_filesystem(self.dest)
            for folder in folders:
                fsync_dir(folder)
            for entry in verified:
                self.manifest.add(entry)
                recorded.append(entry)
            self.manifest.sync()
            for entry in recorded:
                if entry.movie:
                    self._remove_source(entry)
            self.manifest.sync()
        except OSError as exc:  # unrecorded copies are not trusted: copied again later
            result.errors.append(f"recording the batch in {self.manifest.path}: {exc}")
            self.manifest.close()  # reopened (and re-read) on the next pass
        self.last_activity = self.clock()
        if self.first_activity is None:
            self.first_activity = self.last_activity
        return len(recorded), sum(1 for e in recorded if e.movie)

    # -- the end --------------------------------------------------------------------------
    def remove_empty_folders(self) -> int:
        """Remove empty folders in the frames tree (bottom-up); never a file."""
        removed = 0
        for folder, _dirs, _names in os.walk(self.frames, topdown=False):
            try:
                os.rmdir(folder)
                removed += 1
            except OSError:
                pass
        return removed

    def dest_files(self) -> list[Entry]:
        return [e for e in self.manifest.entries.values() if e.path != MANIFEST_DIR]


def _walk_files(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of the regular files under ``root``, hidden ones left out.

    Symlinks are not followed (a link could point outside the roots); entries that vanish
    between listing and stat (EPU's temporary files) are skipped.
    """
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(root / rel_dir) as entries:
                listed = sorted(entries, key=lambda e: e.name)
        except OSError:
            continue  # missing (not created yet) or vanished
        for entry in listed:
            if entry.name.startswith("."):
                continue
            rel = os.path.join(rel_dir, entry.name) if rel_dir else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(rel)
                elif entry.is_file(follow_symlinks=False):
                    yield rel, entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
