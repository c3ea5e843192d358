"""The ``otf`` task: wait for movies, make the OTF folder, submit the workflow, follow it.

One step (:meth:`OtfHandler.process`) either waits for ``min_movies`` settled movies, or
feeds newly settled movies to the job and asks its executor how it is doing. The job record
(:mod:`.record`) is saved before anything is done to the job, so a restarted worker
re-attaches instead of submitting again; worker shutdown never cancels a job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from emhub_worker_core import ConfigError, TaskError
from emhub_worker_core.guard import PathRefused

from .control import NotOurs
from .executors import ExecutorError, make_executor
from .executors.base import (
    FINISHED,
    QUEUED,
    RUNNING,
    STOPPED,
    TERMINAL,
    UNKNOWN,
    JobState,
)
from .feed import MovieFeed, SettledMovies
from .folder import create_otf_folder
from .inputs import resolve
from .launch import check_values
from .record import (
    CREATED,
    STOPPING,
    JobRecord,
    RecordError,
    RecordStore,
    session_lock,
)
from .registry import FolderRegistry
from .settings import OtfSettings
from .submit import OtfSubmission
from .workflow import WorkflowError


def _truthy(value: Any) -> bool:
    return value not in (None, "", 0, "0", False, "false", "no")


class OtfHandler(OtfSubmission):
    """On-the-fly processing of one session, submitted to the scheduler and tracked."""

    #: repeated by the host in its last event (e.g. ``interrupted``) for EMhub's pages
    snapshot_fields: ClassVar[tuple[str, ...]] = ("otf_status", "job_id", "movies_fed")

    def _state_dir(self) -> str | Path:
        """The configured folder, else the one the host gives this plugin (per worker)."""
        if self.settings.state_dir:
            return self.settings.state_dir
        if self.context.state_dir is None:
            raise ConfigError("[plugins.session-otf] state_dir: no folder for the job records "
                              "(this run has no worker state folder): set one")
        return self.context.state_dir

    def setup(self) -> None:
        self.record = None
        self._unknown_since = 0.0
        self._uncertain = ""   # why the last submit may or may not have made a job
        self._unfed: list[str] = []  # settled, not yet written (the feed write failed)
        self._awaiting_stop = False
        self._data_path = ""
        try:
            self.settings = self.read_settings(OtfSettings)
            self.interval = self.settings.period
            self.store = RecordStore(self._state_dir())
            self.folders = FolderRegistry(self._state_dir())
            self.target = resolve(self.args, self.settings, self.emhub)
            self.sid = self.target.session_id
            self.executor = make_executor(self.target.workflow.executor, self.runner,
                                          self.target.otf_path, self.settings.command_timeout)
            if not _truthy(self.args.get("stop")):  # a stop neither renders nor uses them
                check_values(self.target)  # before anything exists
                self._check_folder()
        except (ConfigError, TaskError, PathRefused, WorkflowError, ExecutorError) as exc:
            self.logger.error("refused: %s", exc)
            self.done(error=f"refused: {exc}")
            return
        self.lock = session_lock(self.sid)
        if _truthy(self.args.get("stop")):
            self._stop_job()
            return
        with self.lock:
            if _truthy(self.args.get("clear")) and not self._clear():
                return
            try:
                self.record = self.store.load(self.sid) or \
                    self._adopt(dict(self.target.otf_extra))
            except RecordError as exc:
                self.done(error=f"{exc}; send 'clear' to set it aside")
                return
            except NotOurs as exc:
                self.done(error=f"refused: {exc}; send 'clear' to start again")
                return
            if self.record is not None and self.record.status in TERMINAL:
                self._publish()
                self.done(otf_status=self.record.status, job_id=self.record.job_id,
                          msg="this session's OTF job already ended; send 'clear' to run it "
                              "again")
                return
            if self.record is not None and self.record.status == STOPPING:
                self._awaiting_stop = True  # a stop task is at work: end when it is done
            elif self.record is not None:
                self.record.owner_task = self.task_id
                if self.record.executor and self.record.executor != self.executor.name:
                    self.executor = self._executor_for(self.record.executor)
                self.store.save(self.record)
                self.logger.info("re-attaching to %s job %s (%s)", self.record.executor,
                                 self.record.job_id or "(being submitted)", self.record.status)
        self.movies = SettledMovies(self.target.raw_path, self.settings.is_movie,
                                    self.settings.quiet_seconds, self.context.monotonic,
                                    raw_root=self.target.raw_root)
        self.feed = MovieFeed(self.target.otf_path, self.target.otf_root)
        if self.record is not None and self.target.otf_path.is_dir():
            self._load_feed()

    def _load_feed(self) -> None:
        """The feed a previous run wrote; one replaced by a link is not read, but said,
        and rewritten from what settles (the workflow may then see a movie again)."""
        try:
            self.movies.mark_known(self.feed.load())
        except OSError as exc:
            self.feed.movies, self.feed.ended = [], False
            self._report_once(error=f"feed {self.feed.path} not read ({exc}); it is "
                                    "written again from the raw folder")

    # -- one step -------------------------------------------------------------------------
    def process(self) -> None:
        if self._cancelling:
            self._cancel_step()
            return
        if self._awaiting_stop:
            self._await_stop()
            return
        if self.record is None:
            self._wait_step()
        else:
            with self.lock:
                if not self._still_ours():
                    return
                if not self.record.job_id:  # created/submitting: no id to ask about
                    self._resume_submit()
                else:
                    self._feed_step()
                    self._track_step()
        # a Scipion project may appear any step
        if (self._dirty or self._data_path_due()) and not self.finished:
            self._publish()

    def _still_ours(self) -> bool:
        """A ``stop`` or ``clear`` task of the same session may have taken the job over."""
        assert self.record is not None
        current = self.store.load(self.sid)
        if current is None or current.owner_task != self.task_id:
            self.done(msg="superseded by another OTF task of this session (clear)")
            return False
        if current.status in (STOPPED, STOPPING):
            self._awaiting_stop = True
            self._await_stop()
            return False
        return True

    def _await_stop(self) -> None:
        """A ``stop`` task cancels the job: this task ends with it, never before (the job
        may still run while the cancel is not confirmed), and neither feeds nor tracks."""
        current = self.store.load(self.sid)
        if current is None or current.status not in (STOPPING, STOPPED):
            self.done(msg="the session's job record changed (cleared)")
            return
        self.record = current
        if current.status == STOPPED:
            self.done(otf_status=STOPPED, job_id=current.job_id, msg="stopped")
            return
        self._report_once(otf_status=STOPPING, job_id=current.job_id,
                          msg="waiting for the stop task to confirm the cancel")

    def _wait_step(self) -> None:
        if self._another_task_has_it():
            return
        raw = self.target.raw_path
        if not raw.is_dir():
            self._report_once(otf_status="waiting", msg=f"waiting for the raw folder {raw}")
            return
        self.movies.scan()
        self._report_problems()
        settled = len(self.movies.settled)
        if settled < self.settings.min_movies:
            self._report_once(otf_status="waiting", settled_movies=settled,
                              min_movies=self.settings.min_movies)
            return
        with self.lock:
            # looked at again under the lock: another task of this session (this process),
            # another host (extra.otf), or a job already queued under this session's name
            if self._another_task_has_it() or self._another_host_has_it():
                return
            self._begin()

    def _begin(self) -> None:
        """Make the folder, record it, save the record, submit (caller holds the lock)."""
        now = self.context.clock()
        try:
            params = create_otf_folder(self.target)
            self.folders.record(self.target)
        except OSError as exc:  # a full disk: said, and tried again next step
            self._report_once(error=f"OTF folder {self.target.otf_path} not made: {exc}")
            return
        record = JobRecord(session_id=self.sid, owner_task=self.task_id,
                           path=str(self.target.otf_path),
                           workflow=self.target.workflow.name, host=self.target.host,
                           executor=self.executor.name, created=now, ready_at=now,
                           gain=str(params.get("gain") or ""))
        record.set_status(CREATED, now)
        self.store.save(record)
        self.record = record
        self._load_feed()
        fed = set(self.feed.movies)  # a half-made folder may hold a feed already
        self._unfed = [p for p in sorted(self.movies.settled, key=lambda p:
                                         self.movies.settled[p]) if p not in fed]
        self._write_feed(record)
        self._publish()
        if self.target.gain_pattern and not record.gain:
            self.logger.warning("no gain reference matches %r: {gain} is empty",
                                self.target.gain_pattern)
        self.update({"otf_status": CREATED, "otf_path": record.path,
                     "movies_fed": record.movies_fed, "gain": record.gain,
                     "maxlen": self.settings.progress_maxlen})
        self._submit()

    def _write_feed(self, record: JobRecord) -> bool:
        """Append the settled movies not yet written; a failed write keeps them for the
        next step, says why, and tracking goes on."""
        if not self._unfed:
            return False
        try:
            self.feed.extend(self._unfed)
        except OSError as exc:
            self._report_once(error=f"feed {self.feed.path} not written ({len(self._unfed)} "
                                    f"movies waiting): {exc}")
            return False
        count, self._unfed = len(self._unfed), []
        record.movies_fed = len(self.feed.movies)
        self.store.save(record)
        self._dirty = True
        self.update({"movies_fed": record.movies_fed, "new_movies": count,
                     "maxlen": self.settings.progress_maxlen})
        return True

    def _report_problems(self) -> None:
        if self.movies.problems:
            self._report_once(error="not fed: " + "; ".join(self.movies.problems[:5]) +
                              (f" (and {len(self.movies.problems) - 5} more)"
                               if len(self.movies.problems) > 5 else ""))

    def _feed_step(self) -> None:
        record = self.record
        assert record is not None
        if not self.target.raw_path.is_dir():
            return
        new = self.movies.scan()
        self._report_problems()
        if self.feed.ended:
            if new or self._unfed:
                self._unfed += new
                self._report_once(error=f"{len(self._unfed)} movies arrived after the feed "
                                        "was ended (#END); not fed (send 'clear' to process "
                                        "the session again)")
            return
        self._unfed += new
        if self._write_feed(record) or self._unfed or self.movies.pending:
            return
        if self.context.monotonic() - self.movies.last_change >= self.settings.end_after_idle:
            try:
                self.feed.end()
            except OSError as exc:
                self._report_once(error=f"feed {self.feed.path}: end marker not written: "
                                        f"{exc}")
                return
            record.feed_ended = True
            self.store.save(record)
            self._dirty = True
            self.update({"feed": "ended", "movies_fed": record.movies_fed,
                         "maxlen": self.settings.progress_maxlen})

    def _track_step(self) -> None:
        record = self.record
        assert record is not None
        try:
            state = self.executor.state(record.job_id)
        except ExecutorError as exc:
            self._report_once(error=f"cannot ask {self.executor.name}: {exc}")
            return
        now = self.context.clock()
        if state.status == UNKNOWN:
            self._unknown_since = self._unknown_since or self.context.monotonic()
            if self.context.monotonic() - self._unknown_since >= self.settings.job_gone_grace:
                self._fail(record, None, f"{self.executor.name} no longer knows job "
                                         f"{record.job_id} ({state.detail or 'no record'})")
            return
        self._unknown_since = 0.0
        if state.status in (QUEUED, RUNNING):
            if state.status == RUNNING and not record.started:
                record.started = now
            if record.set_status(state.status, now):
                self.store.save(record)
                self._publish()
                self.update({"otf_status": state.status, "job_id": record.job_id,
                             "maxlen": self.settings.progress_maxlen})
            return
        self._ended(record, state)

    def _ended(self, record: JobRecord, state: JobState) -> None:
        now = self.context.clock()
        record.ended, record.exit_code = now, state.exit_code
        record.started = record.started or now
        if state.status == FINISHED:
            record.set_status(FINISHED, now)
            self.store.save(record)
            self._publish()
            self.done(otf_status=FINISHED, job_id=record.job_id, exit_code=0,
                      movies_fed=record.movies_fed)
            return
        if state.status == STOPPED:
            record.set_status(STOPPED, now)
            self.store.save(record)
            self._publish()
            self.done(otf_status=STOPPED, job_id=record.job_id,
                      msg=f"cancelled outside emworker ({state.detail})")
            return
        self._fail(record, state.exit_code, f"job {record.job_id} ended {state.detail}")
