"""Transfer one session folder: scan, settle, copy in parallel, record, then move.

Order per file: copy to a temp name + checksum -> fsync (movies, large files) and check
-> rename into place; for small files one filesystem sync per group, then the check from
storage -> manifest record (fsync'd per group) -> only then remove a movie's source. A
file in the destination counts only once recorded. Copiers never wait for this
bookkeeping: while the task thread records one group, the next files are being copied.
Killed anywhere, :meth:`SessionTransfer.open` puts things right on the next start
(:mod:`.repair`); a group's sync, check, record and move are :mod:`.commit`'s.

Both trees are reached by directory descriptors that follow no link (the frames share is
the microscope PC's, a raw folder may be its group's): a link in the destination is refused,
so no copy lands on its source. A movie's source is removed only while it is still the
inode recorded when it was copied, and never when the "copy" is that same file.
"""

from __future__ import annotations

import errno
import os
from collections import deque
from functools import partial
from pathlib import Path
from typing import Callable

from emhub_worker_core.guard import VANISHED, SettleTracker, open_dir

from .commit import Candidate, Group, StepResult, commit_group
from .copier import (
    CopyJob,
    DestinationError,
    SourceGone,
    SourceProblem,
    copy_bundle,
    discard,
)
from .manifest import Manifest
from .pool import Cancelled, CopyPool
from .repair import Logger, finish_moves, remove_temp_files
from .settings import TransferSettings
from .stats import SessionStats
from .walk import SourceDirs, walk, walk_dirs_bottom_up

__all__ = ["Candidate", "SessionTransfer", "StepResult"]

# A group also closes at this many bytes: while a backlog of movies copies, their sources
# leave the share (an unlink of a large file waits on the journal) and EMhub hears of them
# as they go, not once per `batch` movies.
GROUP_BYTES = 512 << 20
# Small files go to a copier this many at a time (or this many bytes): one hand-off per
# bundle, not two per file; a thread wake-up costs more CPU than copying a small file.
COPY_BUNDLE_FILES = 32
COPY_BUNDLE_BYTES = 8 << 20
# Bundles copied at once (a bundle is not a group: `batch` counts a group's files): more
# threads copying small files only hand the interpreter lock to each other (their reads
# overlap anyway: each bundle starts all of its reads first).
COPY_BUNDLES_AT_ONCE = 2


class SessionTransfer:
    def __init__(self, frames: Path, dest: Path, dest_root: Path, settings: TransferSettings,
                 clock: Callable[[], float], logger: Logger) -> None:
        self.frames, self.dest, self.dest_root = frames, dest, dest_root
        self.settings, self.clock, self.logger = settings, clock, logger
        self.settle = SettleTracker(settings.quiet_seconds)
        self.manifest = Manifest(dest)
        self.stats = SessionStats()
        self.pool = CopyPool(settings.workers)
        self.problems: list[str] = []   # unreadable parts of the frames tree, last scan
        self.last_activity = clock()
        self.first_activity: float | None = None

    # -- start / resume -------------------------------------------------------------------
    def open(self) -> None:
        """Open (or reopen) the destination and repair what a crash left behind."""
        if not self.dest_root.is_dir():  # an unmounted storage root must not be recreated
            raise DestinationError(errno.ENOENT, f"destination root {self.dest_root} is missing")
        try:  # every folder from the root down made or opened without following a link
            dest_fd = open_dir(self.dest, root=self.dest_root, create=True, mode=0o777)
        except OSError as exc:
            why = "a folder on the way is a symlink" if exc.errno in VANISHED else exc.strerror
            raise DestinationError(exc.errno, f"destination {self.dest}: {why}") from exc
        try:
            self.manifest.close()
            self.manifest.open(dest_fd)
            if self.manifest.refused:
                self.logger.warning("%d manifest record(s) not trusted (absolute, '..'): %s",
                                    len(self.manifest.refused), self.manifest.refused[:3])
            remove_temp_files(self.dest, dest_fd)
            finish_moves(self.manifest, self.frames, self.dest, dest_fd,
                         self.settings.chunk_kib * 1024, self.logger)
        except DestinationError:
            raise
        except OSError as exc:
            raise DestinationError(exc.errno, f"destination {self.dest}: {exc.strerror}") from exc
        finally:
            os.close(dest_fd)
        self.stats = SessionStats()
        for entry in self.manifest.entries.values():
            self.stats.add(entry.path, entry.size, entry.mtime, entry.movie)
        times = [e.at for e in self.manifest.entries.values()]
        if times:  # the stop rules survive restarts: they count from recorded times
            self.first_activity = min(times)
            self.last_activity = max(times)

    def close(self) -> None:
        self.pool.shutdown()
        self.manifest.close()

    # -- one pass -------------------------------------------------------------------------
    def scan(self) -> tuple[list[Candidate], int]:
        """Settled files not transferred yet, and how many are still settling."""
        now = self.clock()
        found = walk(self.frames)
        self.problems = found.problems
        present: list[str] = []
        ready: list[Candidate] = []
        entries = self.manifest.entries
        for rel, st in found.files:
            done = entries.get(rel)
            if done is not None and (done.size, done.mtime_ns) == (st.st_size, st.st_mtime_ns):
                continue
            present.append(rel)
            if self.settle.observe(rel, st.st_size, st.st_mtime_ns, now):
                ready.append(Candidate(rel, st.st_size, st.st_mtime_ns))
        self.settle.keep_only(present)
        if present or found.problems:
            self.last_activity = now
        return ready, len(present) - len(ready)

    def transfer(self, ready: list[Candidate], on_batch: Callable[[int, int], None],
                 stopping: Callable[[], bool] = lambda: False) -> StepResult:
        """Copy ``ready`` files; ``on_batch(new_files, new_movies)`` after each group.

        ``stopping`` is polled between files: copies not started yet are dropped, the
        ones under way finish and are recorded, so a shutdown waits for little.
        """
        result = StepResult()
        if not self.manifest.is_open_here():
            self.open()
        dirs = SourceDirs(self.frames)
        try:
            copies = SourceDirs(self.dest, create=True,
                                root_fd=open_dir(self.dest, root=self.dest_root))
        except OSError as exc:
            dirs.close()
            why = "a folder on the way is a symlink" if exc.errno in VANISHED else exc.strerror
            result.errors.append(f"destination {self.dest}: {why}")
            return result
        # queued ahead of the copiers: they keep copying while a group is recorded
        window = 2 * self.settings.batch + self.settings.workers
        todo = iter(ready)
        inflight, more = 0, True
        group: Group = []
        group_bytes = 0
        small: list[tuple[Candidate, CopyJob]] = []   # the next bundle of small files
        small_bytes = 0
        bundles: deque[list[tuple[Candidate, CopyJob]]] = deque()  # made, not sent yet
        bundles_out = 0   # bundles with the copiers
        try:
            while True:
                while more and inflight < window:
                    cand = next(todo, None) if not (stopping() or result.errors) else None
                    if cand is None:
                        more = False
                        break
                    job = self._prepare(cand, dirs, copies, result)
                    if job is None:
                        continue
                    inflight += 1
                    if job.durable:
                        self._send([(cand, job)], bundle=False)
                        continue
                    small.append((cand, job))
                    small_bytes += cand.size
                    if len(small) >= COPY_BUNDLE_FILES or small_bytes >= COPY_BUNDLE_BYTES:
                        bundles.append(small)
                        small, small_bytes = [], 0
                if small:  # a window full or no more files: what is gathered goes now
                    bundles.append(small)
                    small, small_bytes = [], 0
                while bundles and bundles_out < COPY_BUNDLES_AT_ONCE:
                    self._send(bundles.popleft(), bundle=True)
                    bundles_out += 1
                if inflight == 0:
                    break
                if stopping():
                    self.pool.cancel_queued()
                (cands, was_bundle), outcomes, error = self.pool.next_outcome()
                inflight -= len(cands)
                bundles_out -= was_bundle
                for cand, outcome in zip(cands, outcomes if error is None
                                         else [error] * len(cands)):
                    dirs.release(cand.rel)
                    self.settle.forget(cand.rel)
                    if isinstance(outcome, BaseException):
                        copies.release(cand.rel)
                        self._note_failure(cand, outcome, result)
                    else:
                        group.append((cand, outcome))
                        group_bytes += outcome.size
                if group and (len(group) >= self.settings.batch or inflight == 0
                              or group_bytes >= GROUP_BYTES):
                    self._commit(group, dirs, result, on_batch)
                    for done, _copied in group:  # the copies' folders are not needed now
                        copies.release(done.rel)
                    group, group_bytes = [], 0
        finally:
            self.pool.cancel_queued(False)
            for _cand, copied in group:  # only left by an exception: not trusted
                discard(copied.name, copied.dir_fd)
            dirs.close()
            copies.close()
        return result

    def _prepare(self, cand: Candidate, dirs: SourceDirs, copies: SourceDirs,
                 result: StepResult) -> CopyJob | None:
        """The copy of ``cand`` with its folders' descriptors (held until it is done);
        None when a folder on either side cannot be reached (noted in ``result``)."""
        target = f"{self.dest}/{cand.rel}"   # strings: pathlib cost ~0.1 ms a file here
        try:  # made and opened from the destination down, no link followed
            dst_dir_fd = copies.folder(cand.rel.rpartition("/")[0])
        except OSError as exc:
            why = "a folder on the way is a symlink" if exc.errno in VANISHED else exc.strerror
            result.errors.append(f"cannot create {target.rpartition('/')[0]}: {why}")
            return None
        try:
            dir_fd, name = dirs.locate(cand.rel)
        except OSError as exc:  # a folder vanished, or was swapped for a link, since the scan
            self.settle.forget(cand.rel)
            if exc.errno == errno.ENOENT:
                return None
            why = "is a symlink now" if exc.errno in VANISHED else exc.strerror
            result.source_problems.append(f"{self.frames / cand.rel}: a folder on its way {why}")
            return None
        durable = self.settings.is_movie(cand.rel) or \
            cand.size >= self.settings.durable_min_bytes
        dirs.hold(cand.rel)
        copies.hold(cand.rel)
        return CopyJob(dir_fd, name, cand.rel, target, dst_dir_fd, durable)

    def _send(self, files: list[tuple[Candidate, CopyJob]], *, bundle: bool) -> None:
        """One job for the copiers: a movie or large file alone, or a bundle of small ones
        (``bundle``: counted against ``COPY_BUNDLES_AT_ONCE``)."""
        self.pool.submit(([cand for cand, _job in files], bundle), partial(
            copy_bundle, [job for _cand, job in files], chunk=self.settings.chunk_kib * 1024,
            verify=self.settings.verify, algorithm=self.settings.checksum,
            cancelled=self.pool.cancelled))

    def _note_failure(self, cand: Candidate, error: BaseException, result: StepResult) -> None:
        if isinstance(error, (SourceGone, Cancelled)):
            self.logger.debug("not copied now: %s", error)
        elif isinstance(error, SourceProblem):
            self.logger.warning("not copied now, tried again later: %s", error)
            result.source_problems.append(f"{self.frames}/{error}")
        elif isinstance(error, DestinationError):
            result.errors.append(str(error))
        else:  # a bug in a copier: say it, back off, try again (never lose the source)
            self.logger.error("copying %s failed: %r", cand.rel, error)
            result.errors.append(f"copying {cand.rel}: {error!r}")

    def _commit(self, group: Group, dirs: SourceDirs, result: StepResult,
                on_batch: Callable[[int, int], None]) -> None:
        """Sync, check, record a group of copies; then remove the movies' sources."""
        entries = commit_group(group, self.dest, self.manifest, self.settings, self.clock,
                               dirs, result, self.logger)
        if not entries:
            return
        for entry in entries:
            self.stats.add(entry.path, entry.size, entry.mtime, entry.movie)
        self.last_activity = entries[0].at
        if self.first_activity is None:
            self.first_activity = self.last_activity
        movies = sum(1 for e in entries if e.movie)
        result.new_files += len(entries)
        result.new_movies += movies
        on_batch(len(entries), movies)

    # -- the end --------------------------------------------------------------------------
    def remove_empty_folders(self) -> int:
        """Remove empty folders in the frames tree (bottom-up); never a file or a link."""
        removed = 0
        for parent_fd, name in walk_dirs_bottom_up(self.frames):
            try:
                os.rmdir(name, dir_fd=parent_fd)
                removed += 1
            except OSError:
                pass
        try:
            os.rmdir(self.frames)
            removed += 1
        except OSError:
            pass
        return removed

