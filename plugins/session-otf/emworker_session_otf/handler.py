"""The ``otf`` task: wait for movies, make the OTF folder, submit the workflow, follow it.

One step (:meth:`OtfHandler.process`) either waits for ``min_movies`` settled movies, or
feeds newly settled movies to the job and asks its executor how it is doing. The job record
(:mod:`.record`) is saved before anything is done to the job, so a restarted worker
re-attaches instead of submitting again; worker shutdown never cancels a job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from emhub_worker_core import ConfigError

from .control import OtfSessionHandler
from .executors import ExecutorError, make_executor
from .executors.base import FAILED, FINISHED, QUEUED, RUNNING, STOPPED, TERMINAL, UNKNOWN, JobState
from .feed import MovieFeed, SettledMovies
from .folder import create_otf_folder
from .inputs import resolve
from .launch import build_spec, log_tail
from .paths import PathRefused
from .record import (
    CREATED,
    SUBMITTING,
    JobRecord,
    RecordError,
    RecordStore,
    record_from_extra,
    session_lock,
)
from .settings import OtfSettings
from .workflow import WorkflowError


def _truthy(value: Any) -> bool:
    return value not in (None, "", 0, "0", False, "false", "no")


class OtfHandler(OtfSessionHandler):
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
        self._last_wait: tuple[Any, ...] = ()
        self._unknown_since = 0.0
        self._dirty = False
        self._data_path = ""
        try:
            self.settings = OtfSettings.from_config(self.config)
            self.interval = self.settings.period
            self.store = RecordStore(self._state_dir())
            self.target = resolve(self.args, self.settings, self.emhub)
        except (ConfigError, PathRefused, WorkflowError) as exc:
            self.logger.error("refused: %s", exc)
            self.done(error=f"refused: {exc}")
            return
        self.sid = self.target.session_id
        self.lock = session_lock(self.sid)
        self.executor = make_executor(self.target.workflow.executor, self.runner,
                                                self.target.otf_path,
                                                self.settings.command_timeout)
        if _truthy(self.args.get("stop")):
            self._stop_job()
            return
        with self.lock:
            if _truthy(self.args.get("clear")):
                self._clear()
            try:
                self.record = self.store.load(self.sid) or \
                    record_from_extra(self.sid, self.target.otf_extra, self.task_id)
            except RecordError as exc:
                self.done(error=str(exc))
                return
            if self.record is not None and self.record.status in TERMINAL:
                self._publish()
                self.done(otf_status=self.record.status, job_id=self.record.job_id,
                          msg="this session's OTF job already ended; send 'clear' to run it "
                              "again")
                return
            if self.record is not None:
                self.record.owner_task = self.task_id
                if self.record.executor and self.record.executor != self.executor.name:
                    self.executor = make_executor(self.record.executor, self.runner,
                                                  self.target.otf_path,
                                                  self.settings.command_timeout)
                self.store.save(self.record)
                self.logger.info("re-attaching to %s job %s (%s)", self.record.executor,
                                 self.record.job_id or "(being submitted)", self.record.status)
        self.movies = SettledMovies(self.target.raw_path, self.settings.is_movie,
                                    self.settings.quiet_seconds, self.context.clock)
        self.feed = MovieFeed(self.target.otf_path)
        if self.record is not None and self.target.otf_path.is_dir():
            self.movies.mark_known(self.feed.load())

    # -- one step -------------------------------------------------------------------------
    def process(self) -> None:
        if self.record is None:
            self._wait_step()
            return
        with self.lock:
            if not self._still_ours():
                return
            if self.record.status == SUBMITTING:
                self._submit()
            else:
                self._feed_step()
                self._track_step()
        if self._dirty or self._data_path_due():  # a Scipion project may appear any step
            self._publish()

    def _still_ours(self) -> bool:
        """A ``stop`` or ``clear`` task of the same session may have taken the job over."""
        assert self.record is not None
        current = self.store.load(self.sid)
        if current is None or current.owner_task != self.task_id:
            self.done(msg="superseded by another OTF task of this session (clear)")
            return False
        if current.status == STOPPED:
            self.record = current
            self.done(otf_status=STOPPED, job_id=current.job_id, msg="stopped")
            return False
        return True

    def _wait_step(self) -> None:
        other = self.store.load(self.sid)
        if other is not None:  # a stop, or another task of this session, got there first
            self.record = other if other.status == STOPPED else None
            self.done(otf_status=other.status, job_id=other.job_id,
                      msg="stopped" if other.status == STOPPED else
                      f"task {other.owner_task} runs this session's OTF job")
            return
        raw = self.target.raw_path
        if not raw.is_dir():
            self._progress(otf_status="waiting", msg=f"waiting for the raw folder {raw}")
            return
        self.movies.scan()
        settled = len(self.movies.settled)
        if settled < self.settings.min_movies:
            self._progress(otf_status="waiting", settled_movies=settled,
                           min_movies=self.settings.min_movies)
            return
        now = self.context.clock()
        with self.lock:
            record = JobRecord(session_id=self.sid, owner_task=self.task_id,
                               path=str(self.target.otf_path),
                               workflow=self.target.workflow.name, host=self.target.host,
                               executor=self.executor.name, created=now, ready_at=now)
            create_otf_folder(self.target)
            record.set_status(CREATED, now)
            self.store.save(record)
            self.record = record
            self.feed.load()
            self.feed.extend(sorted(self.movies.settled, key=lambda p: self.movies.settled[p]))
            record.movies_fed = len(self.feed.movies)
            self._publish()
            self.update({"otf_status": CREATED, "otf_path": record.path,
                         "movies_fed": record.movies_fed,
                         "maxlen": self.settings.progress_maxlen})
            self._submit()
        if self._dirty:
            self._publish()

    def _progress(self, **fields: Any) -> None:
        """A waiting event only when something changed: history is not flooded."""
        key = tuple(sorted(fields.items()))
        if key != self._last_wait:
            self._last_wait = key
            self.update({**fields, "maxlen": self.settings.progress_maxlen})

    # -- the job --------------------------------------------------------------------------
    def _submit(self) -> None:
        record = self.record
        assert record is not None
        if record.status == SUBMITTING and not record.job_id:
            found = self.executor.find(record.job_name) if record.job_name else None
            if found:  # a previous run died between submit and saving the id
                self._submitted(record, found)
                return
        record.attempts += 1
        # unique across clears and reruns of the session, stable across restarts (saved)
        record.job_name = f"emworker-otf-{self.sid}-{int(record.created)}-{record.attempts}"
        record.set_status(SUBMITTING, self.context.clock())
        self.store.save(record)  # before the scheduler hears of it
        try:
            spec = build_spec(self.target, record.job_name, self.feed.path)
            job_id = self.executor.submit(spec)
        except (ExecutorError, WorkflowError, OSError) as exc:
            self._fail(record, None, f"submit failed: {exc}")
            return
        self._submitted(record, job_id)

    def _submitted(self, record: JobRecord, job_id: str) -> None:
        now = self.context.clock()
        record.job_id, record.submitted = job_id, now
        record.log = str(self.executor.log_path(self.target.otf_path / "otf-submit.log",
                                                job_id))
        record.exit_code, record.log_tail, record.started, record.ended = None, "", 0.0, 0.0
        record.set_status(QUEUED, now)
        self.store.save(record)
        self.logger.info("submitted %s job %s for session %s", self.executor.name, job_id,
                         self.sid)
        self._publish()
        self.update({"otf_status": QUEUED, "job_id": job_id, "executor": self.executor.name,
                     "maxlen": self.settings.progress_maxlen})

    def _feed_step(self) -> None:
        record = self.record
        assert record is not None
        if not self.target.raw_path.is_dir() or self.feed.ended:
            return
        new = self.movies.scan()
        if new:
            self.feed.extend(new)
            record.movies_fed = len(self.feed.movies)
            self.store.save(record)
            self._dirty = True
            self.update({"movies_fed": record.movies_fed, "new_movies": len(new),
                         "maxlen": self.settings.progress_maxlen})
        elif not self.movies.pending and \
                self.context.clock() - self.movies.last_change >= self.settings.end_after_idle:
            self.feed.end()
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
            self._progress(error=f"cannot ask {self.executor.name}: {exc}")
            return
        now = self.context.clock()
        if state.status == UNKNOWN:
            self._unknown_since = self._unknown_since or now
            if now - self._unknown_since >= self.settings.job_gone_grace:
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

    def _fail(self, record: JobRecord, exit_code: int | None, message: str) -> None:
        """Report the failure once; resubmit while retries are left."""
        now = self.context.clock()
        record.exit_code, record.ended = exit_code, now
        record.log_tail = log_tail(record.log, self.settings.log_tail_lines)
        if record.attempts <= self.settings.retries:
            self.logger.warning("%s; retrying (%d of %d)", message, record.attempts,
                                self.settings.retries)
            self.update({"otf_status": FAILED, "error": message, "retrying": 1,
                         "exit_code": exit_code, "log_tail": record.log_tail,
                         "maxlen": self.settings.progress_maxlen})
            record.job_id = ""
            self._submit()
            return
        record.set_status(FAILED, now)
        self.store.save(record)
        self._publish()
        self.logger.error("%s (exit code %s)", message, exit_code)
        self.done(otf_status=FAILED, error=message, job_id=record.job_id,
                  exit_code=exit_code, log_tail=record.log_tail)
