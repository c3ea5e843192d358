"""Transfer one session folder: scan, settle, copy in parallel, record, then move.

Order per file: copy to a temp name + checksum -> fsync (movies, large files) and check
-> rename into place; for small files one filesystem sync per group, then the check from
storage -> manifest record (fsync'd per group) -> only then remove a movie's source. A
file in the destination counts only once recorded. Copiers never wait for this
bookkeeping: while the task thread records one group, the next files are being copied.
Killed anywhere, :meth:`SessionTransfer.open` puts things right on the next start.

Both trees are reached by directory descriptors that follow no link (the frames share is
the microscope PC's, a raw folder may be its group's): a link in the destination is refused,
so no copy lands on its source. A movie's source is removed only while it is still the
inode recorded when it was copied, and never when the "copy" is that same file.
"""

from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Union

from emhub_worker_core.guard import (
    VANISHED,
    SettleTracker,
    open_dir,
    open_regular_stat,
    same_file,
    unlink_same,
    walk_entries,
)

from .checksum import file_digest
from .copier import (
    TEMP_PREFIX,
    Copied,
    DestinationError,
    SourceGone,
    SourceProblem,
    buffer,
    check_stored,
    copy_verified,
    discard,
    sync_filesystem,
)
from .manifest import Entry, Manifest
from .pool import Cancelled, CopyPool
from .settings import TransferSettings
from .stats import SessionStats
from .walk import SourceDirs, walk, walk_dirs_bottom_up

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
    errors: list[str] = field(default_factory=list)           # destination trouble
    source_problems: list[str] = field(default_factory=list)  # retried on a later scan


Group = list[tuple[Candidate, Copied]]
# A group also closes at this many bytes: while a backlog of movies copies, their sources
# leave the share (an unlink of a large file waits on the journal) and EMhub hears of them
# as they go, not once per `batch` movies.
GROUP_BYTES = 512 << 20


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
            self._remove_temp_files(dest_fd)
            self._finish_moves(dest_fd)
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

    def _remove_temp_files(self, dest_fd: int) -> None:
        """Our leftover temp files (names are ours: removed by name, no link followed)."""
        temps = [rel for rel, entry in walk_entries(dest_fd, skip_hidden=False)
                 if entry.name.startswith(TEMP_PREFIX)]
        dirs = SourceDirs(self.dest, root_fd=os.dup(dest_fd))
        try:
            for rel in temps:
                dir_fd, name = dirs.locate(rel)
                os.unlink(name, dir_fd=dir_fd)
        finally:
            dirs.close()

    def _finish_moves(self, dest_fd: int) -> None:
        """Movies verified before a crash whose source is still there: remove it now,
        once the copy still has the recorded checksum (any recorded algorithm), is not the
        source itself, and the source is still the inode that was copied."""
        dirs = SourceDirs(self.frames)
        copies = SourceDirs(self.dest, root_fd=os.dup(dest_fd))
        moved: list[str] = []
        try:
            for entry in list(self.manifest.entries.values()):
                if not entry.movie or entry.moved:
                    continue
                inode = _recorded_inode(entry)
                if inode is None or not self._copy_intact(entry, copies, dirs):
                    del self.manifest.entries[entry.path]  # transferred again
                    continue
                if self._remove_source(entry, dirs, inode):
                    moved.append(entry.path)
        finally:
            dirs.close()
            copies.close()
        self.manifest.mark_all_moved(moved)
        self.manifest.sync()

    def _copy_intact(self, entry: Entry, copies: SourceDirs, sources: SourceDirs) -> bool:
        """The recorded copy is there, a separate file from the source, with its checksum."""
        try:
            dir_fd, name = copies.locate(entry.path)
            fd, copy_st = open_regular_stat(dir_fd, name)
        except OSError:
            return False
        try:
            if self._is_source(entry, copy_st, sources):
                self.logger.warning("%s: the recorded copy is the source itself; not a copy",
                                    entry.path)
                return False
            digest, size = file_digest(fd, entry.algorithm,
                                       buffer(self.settings.chunk_kib * 1024))
        except ValueError:  # an algorithm this version does not know
            return False
        finally:
            os.close(fd)
        return (digest, size) == (entry.digest, entry.size)

    @staticmethod
    def _is_source(entry: Entry, copy_st: os.stat_result, sources: SourceDirs) -> bool:
        if (copy_st.st_dev, copy_st.st_ino) == _recorded_inode(entry):
            return True
        try:
            dir_fd, name = sources.locate(entry.path)
            return same_file(copy_st, os.stat(name, dir_fd=dir_fd, follow_symlinks=False))
        except OSError:
            return False

    def _remove_source(self, entry: Entry, dirs: SourceDirs, inode: tuple[int, int]) -> bool:
        """True when the source is gone now (removed, or already gone)."""
        try:
            dir_fd, name = dirs.locate(entry.path)
            if unlink_same(dir_fd, name, *inode, size=entry.size, mtime_ns=entry.mtime_ns):
                return True
            self.logger.warning("%s changed since it was copied: left in place", entry.path)
            return False
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return True
            self.logger.warning("%s not removed from the frames folder: %s", entry.path,
                                exc.strerror)
            return False

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
        try:
            while True:
                while more and inflight < window:
                    cand = next(todo, None) if not (stopping() or result.errors) else None
                    if cand is None:
                        more = False
                    elif self._submit(cand, dirs, copies, result):
                        inflight += 1
                if inflight == 0:
                    break
                if stopping():
                    self.pool.cancel_queued()
                cand, copied, error = self.pool.next_outcome()
                inflight -= 1
                dirs.release(cand.rel)
                self.settle.forget(cand.rel)
                if error is None:
                    group.append((cand, copied))
                    group_bytes += copied.size
                else:
                    copies.release(cand.rel)
                    self._note_failure(cand, error, result)
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

    def _submit(self, cand: Candidate, dirs: SourceDirs, copies: SourceDirs,
                result: StepResult) -> bool:
        target = f"{self.dest}/{cand.rel}"   # strings: pathlib cost ~0.1 ms a file here
        try:  # made and opened from the destination down, no link followed
            dst_dir_fd = copies.folder(cand.rel.rpartition("/")[0])
        except OSError as exc:
            why = "a folder on the way is a symlink" if exc.errno in VANISHED else exc.strerror
            result.errors.append(f"cannot create {target.rpartition('/')[0]}: {why}")
            return False
        try:
            dir_fd, name = dirs.locate(cand.rel)
        except OSError as exc:  # a folder vanished, or was swapped for a link, since the scan
            self.settle.forget(cand.rel)
            if exc.errno == errno.ENOENT:
                return False
            why = "is a symlink now" if exc.errno in VANISHED else exc.strerror
            result.source_problems.append(f"{self.frames / cand.rel}: a folder on its way {why}")
            return False
        durable = self.settings.is_movie(cand.rel) or \
            cand.size >= self.settings.durable_min_bytes
        dirs.hold(cand.rel)
        copies.hold(cand.rel)
        self.pool.submit(cand, partial(
            copy_verified, dir_fd, name, cand.rel, target, dst_dir_fd=dst_dir_fd,
            chunk=self.settings.chunk_kib * 1024, verify=self.settings.verify,
            durable=durable, algorithm=self.settings.checksum))
        return True

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
        synced = any(not copied.verified for _c, copied in group)
        try:
            if synced:  # small files' data and every rename so far, before reading back
                sync_filesystem(self.dest)
        except OSError as exc:
            for _cand, copied in group:
                discard(copied.name, copied.dir_fd)
            result.errors.append(f"syncing {self.dest}: {exc.strerror or exc}")
            return
        verified: list[tuple[Entry, Copied]] = []
        at = self.clock()
        folders: set[int] = set()
        unchecked = [copied for _cand, copied in group if not copied.verified]
        checks = dict(zip((id(c) for c in unchecked), check_stored(
            [(c.dir_fd, c.name, c.path, c.size, c.digest) for c in unchecked],
            self.settings.checksum,
            self.settings.chunk_kib * 1024)))
        for cand, copied in group:
            problem = checks.get(id(copied))
            if problem is not None:
                discard(copied.name, copied.dir_fd)
                result.errors.append(str(problem))
                continue
            folders.add(copied.dir_fd)
            verified.append((Entry(cand.rel, copied.size, copied.mtime_ns, copied.digest,
                                   self.settings.is_movie(cand.rel), at,
                                   algorithm=self.settings.checksum,
                                   source_dev=copied.inode[0], source_ino=copied.inode[1]),
                             copied))
        if not verified:
            return
        entries = [entry for entry, _copied in verified]
        try:  # renames on disk before a record; records before any source removal
            for folder in folders if not synced else ():  # syncfs covered the renames
                os.fsync(folder)
            self.manifest.add_all(entries)
            self.manifest.sync()
        except OSError as exc:  # unrecorded copies are not trusted: copied again later
            result.errors.append(f"recording the batch in {self.manifest.path}: {exc}")
            self.manifest.close()  # reopened (and re-read) on the next pass
            return
        moved = [entry.path for entry, copied in verified
                 if entry.movie and self._remove_source(entry, dirs, copied.inode)]
        try:
            self.manifest.mark_all_moved(moved)
            self.manifest.sync()
        except OSError as exc:  # the sources are gone, the copies recorded: nothing lost
            self.logger.warning("recording moves in %s: %s", self.manifest.path, exc)
        for entry in entries:
            self.stats.add(entry.path, entry.size, entry.mtime, entry.movie)
        self.last_activity = at
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


def _recorded_inode(entry: Entry) -> tuple[int, int] | None:
    """The source's (device, inode) as recorded when it was copied (None: not recorded)."""
    dev, ino = entry.source_dev, entry.source_ino
    if isinstance(dev, int) and isinstance(ino, int):
        return dev, ino
    return None
