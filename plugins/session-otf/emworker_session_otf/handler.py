"""The ``otf`` task: wait for movies, make the OTF folder, submit the workflow, follow it.

One step (:meth:`OtfHandler.process`) either waits for ``min_movies`` settled movies, or
feeds newly settled movies to the job and asks its executor how it is doing. The job record
(:mod:`.record`) is saved before anything is done to the job, so a restarted worker
re-attaches instead of submitting again; worker shutdown never cancels a job.

The handler owns the task's life and the session's record; its parts are plain objects:
:class:`.jobs.SessionJobs` (whose job is whose; cancels), :class:`.submission.Submission`,
:class:`.feeder.MovieFeeder`, :class:`.tracking.JobTracker`, :class:`.stopping.StopAndClear`
(``stop`` and ``clear``), :class:`.page.SessionPage` (``extra.otf`` and ``data_path``) and
:class:`.reports.TaskReports` (the task's events).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar, Optional

from emhub_worker_core import ConfigError, TaskError, TaskHandler
from emhub_worker_core.guard import PathRefused

from .executors import ExecutorError
from .executors.base import STOPPED, TERMINAL
from .feeder import MovieFeeder
from .folder import create_otf_folder
from .inputs import OtfTarget, resolve
from .jobs import NotOurs, SessionJobs
from .launch import check_values
from .page import SessionPage
from .record import CREATED, STOPPING, JobRecord, RecordError, RecordStore, session_lock
from .registry import FolderRegistry
from .reports import TaskReports
from .settings import OtfSettings
from .stopping import StopAndClear
from .submission import Submission
from .tracking import JobTracker
from .workflow import WorkflowError


def _truthy(value: Any) -> bool:
    return value not in (None, "", 0, "0", False, "false", "no")


class OtfHandler(TaskHandler):
    """On-the-fly processing of one session, submitted to the scheduler and tracked."""

    #: repeated by the host in its last event (e.g. ``interrupted``) for EMhub's pages
    snapshot_fields: ClassVar[tuple[str, ...]] = ("otf_status", "job_id", "movies_fed")

    settings: OtfSettings
    store: RecordStore
    folders: FolderRegistry
    target: OtfTarget
    sid: int
    lock: threading.Lock
    jobs: SessionJobs
    page: SessionPage
    reports: TaskReports
    stop_and_clear: StopAndClear
    submission: Submission
    feeder: MovieFeeder
    tracker: JobTracker
    record: Optional[JobRecord] = None
    _cancelling = False  # a stop task (or a clear that became one): cancel each step
    _awaiting_stop = False  # a stop task is cancelling the job: end when it is confirmed

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
        self._awaiting_stop = False
        try:
            self.settings = self.read_settings(OtfSettings)
            self.interval = self.settings.period
            self.store = RecordStore(self._state_dir())
            self.folders = FolderRegistry(self._state_dir())
            self.target = resolve(self.args, self.settings, self.emhub)
            self.sid = self.target.session_id
            self.jobs = SessionJobs(self.sid, self.target.workflow, self.target.otf_path,
                                    self.runner, self.settings.command_timeout, self.logger)
            if not _truthy(self.args.get("stop")):  # a stop neither renders nor uses them
                check_values(self.target)  # before anything exists
                self._check_folder()
        except (ConfigError, TaskError, PathRefused, WorkflowError, ExecutorError) as exc:
            self.logger.error("refused: %s", exc)
            self.done(error=f"refused: {exc}")
            return
        self.lock = session_lock(self.sid)
        self.page = SessionPage(self.emhub, self.sid, self.logger)
        self.reports = TaskReports(self.update, self.logger, self.settings.progress_maxlen)
        self.stop_and_clear = StopAndClear(
            self.target, self.task_id, self.store, self.folders, self.jobs, self.page,
            self.reports, self.done, self.context.clock, self.lock, self.logger)
        if _truthy(self.args.get("stop")):
            if self.stop_and_clear.start():
                self._cancel_each_step()
                self.stop_and_clear.step()
            return
        with self.lock:
            if _truthy(self.args.get("clear")):
                cleared = self.stop_and_clear.clear()
                if cleared is None:
                    if not self.finished:  # the job is cancelled until confirmed
                        self._cancel_each_step()
                    return
                self.target = cleared
            if not self._attach():
                return
        # made after a clear: they see the target without the old job
        self.submission = Submission(
            self.target, self.task_id, self.settings, self.store, self.jobs, self.page,
            self.reports, self.emhub, self.done, self.context.clock, self.logger)
        self.feeder = MovieFeeder(self.target, self.settings, self.store, self.page,
                                  self.reports, self.context.monotonic)
        self.tracker = JobTracker(self.target, self.settings.job_gone_grace, self.store,
                                  self.jobs, self.page, self.reports, self.submission,
                                  self.done, self.context.clock, self.context.monotonic)
        if self.record is not None and self.target.otf_path.is_dir():
            self.feeder.load()

    def _cancel_each_step(self) -> None:
        self._cancelling = True
        self.interval = max(self.settings.period, 1.0)

    def _check_folder(self) -> None:
        """The OTF folder is this session's (see :mod:`.registry`); adopt a legacy one."""
        self.folders.check(self.target)
        if self.folders.entry(self.sid) is None and self.target.otf_path.is_dir():
            self.folders.record(self.target)

    def _attach(self) -> bool:
        """The session's record, this host's or one adopted from ``extra.otf`` (caller
        holds the lock); False when the task has ended."""
        try:
            self.record = self.store.load(self.sid) or \
                self.jobs.adopt(dict(self.target.otf_extra), self.task_id)
        except RecordError as exc:
            self.done(error=f"{exc}; send 'clear' to set it aside")
            return False
        except NotOurs as exc:
            self.done(error=f"refused: {exc}; send 'clear' to start again")
            return False
        if self.record is not None and self.record.status in TERMINAL:
            self._publish()
            self.done(otf_status=self.record.status, job_id=self.record.job_id,
                      msg="this session's OTF job already ended; send 'clear' to run it "
                          "again")
            return False
        if self.record is not None and self.record.status == STOPPING:
            self._awaiting_stop = True  # a stop task is at work: end when it is done
        elif self.record is not None:
            self.record.owner_task = self.task_id
            self.jobs.use(self.record.executor)
            self.store.save(self.record)
            self.logger.info("re-attaching to %s job %s (%s)", self.record.executor,
                             self.record.job_id or "(being submitted)", self.record.status)
        return True

    def _publish(self) -> None:
        self.page.publish(self.record, self.target)

    # -- one step -------------------------------------------------------------------------
    def process(self) -> None:
        if self._cancelling:
            self.stop_and_clear.step()
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
                    self.submission.resume(self.record)
                else:
                    self.feeder.step(self.record)
                    self.tracker.step(self.record)
        # a Scipion project may appear any step
        if self.page.due(self.record, self.target) and not self.finished:
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
        self.reports.once(otf_status=STOPPING, job_id=current.job_id,
                          msg="waiting for the stop task to confirm the cancel")

    def _wait_step(self) -> None:
        if self._another_task_has_it():
            return
        raw = self.target.raw_path
        if not raw.is_dir():
            self.reports.once(otf_status="waiting", msg=f"waiting for the raw folder {raw}")
            return
        settled = self.feeder.settled_count()
        if settled < self.settings.min_movies:
            self.reports.once(otf_status="waiting", settled_movies=settled,
                              min_movies=self.settings.min_movies)
            return
        with self.lock:
            # looked at again under the lock: another task of this session (this process),
            # another host (extra.otf), or a job already queued under this session's name
            if self._another_task_has_it() or self.submission.another_host_has_it():
                return
            self._begin()

    def _another_task_has_it(self) -> bool:
        other = self.store.load(self.sid)
        if other is None:
            return False
        if other.status == STOPPING:  # a stop task is at work: end when it is done
            self._awaiting_stop = True
            return True
        self.record = other if other.status == STOPPED else None
        self.done(otf_status=other.status, job_id=other.job_id,
                  msg=STOPPED if other.status == STOPPED else
                  f"task {other.owner_task} runs this session's OTF job")
        return True

    def _begin(self) -> None:
        """Make the folder, record it, save the record, submit (caller holds the lock)."""
        now = self.context.clock()
        try:
            params = create_otf_folder(self.target)
            self.folders.record(self.target)
        except OSError as exc:  # a full disk: said, and tried again next step
            self.reports.once(error=f"OTF folder {self.target.otf_path} not made: {exc}")
            return
        record = JobRecord(session_id=self.sid, owner_task=self.task_id,
                           path=str(self.target.otf_path),
                           workflow=self.target.workflow.name, host=self.target.host,
                           executor=self.jobs.executor.name, created=now, ready_at=now,
                           gain=str(params.get("gain") or ""))
        record.set_status(CREATED, now)
        self.store.save(record)
        self.record = record
        self.feeder.start(record)
        self._publish()
        if self.target.gain_pattern and not record.gain:
            self.logger.warning("no gain reference matches %r: {gain} is empty",
                                self.target.gain_pattern)
        self.reports.send(otf_status=CREATED, otf_path=record.path,
                          movies_fed=record.movies_fed, gain=record.gain)
        self.submission.submit(record)
