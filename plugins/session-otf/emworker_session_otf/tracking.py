"""Following the session's job: its state from the scheduler goes to the record and to
EMhub when it changes; a job the scheduler forgot (past a grace), or one that failed, goes
to :meth:`.submission.Submission.fail`. Owned by :class:`.handler.OtfHandler`."""

from __future__ import annotations

from typing import Callable

from .executors import ExecutorError
from .executors.base import FINISHED, QUEUED, RUNNING, STOPPED, UNKNOWN, JobState
from .inputs import OtfTarget
from .jobs import SessionJobs
from .page import SessionPage
from .record import JobRecord, RecordStore
from .reports import TaskReports
from .submission import Submission


class JobTracker:
    """Asks the executor about the recorded job once a step; ``finish`` ends the task."""

    def __init__(self, target: OtfTarget, job_gone_grace: float, store: RecordStore,
                 jobs: SessionJobs, page: SessionPage, reports: TaskReports,
                 submission: Submission, finish: Callable[..., object],
                 clock: Callable[[], float], monotonic: Callable[[], float]) -> None:
        self.target, self.job_gone_grace = target, job_gone_grace
        self.store, self.jobs, self.page, self.reports = store, jobs, page, reports
        self.submission, self.finish = submission, finish
        self.clock, self.monotonic = clock, monotonic
        self._unknown_since = 0.0  # when the scheduler first did not know the job

    def step(self, record: JobRecord) -> None:
        executor = self.jobs.executor
        try:
            state = executor.state(record.job_id)
        except ExecutorError as exc:
            self.reports.once(error=f"cannot ask {executor.name}: {exc}")
            return
        now = self.clock()
        if state.status == UNKNOWN:
            self._unknown_since = self._unknown_since or self.monotonic()
            if self.monotonic() - self._unknown_since >= self.job_gone_grace:
                self.submission.fail(record, None, f"{executor.name} no longer knows job "
                                                   f"{record.job_id} "
                                                   f"({state.detail or 'no record'})")
            return
        self._unknown_since = 0.0
        if state.status in (QUEUED, RUNNING):
            if state.status == RUNNING and not record.started:
                record.started = now
            if record.set_status(state.status, now):
                self.store.save(record)
                self.page.publish(record, self.target)
                self.reports.send(otf_status=state.status, job_id=record.job_id)
            return
        self._ended(record, state)

    def _ended(self, record: JobRecord, state: JobState) -> None:
        now = self.clock()
        record.ended, record.exit_code = now, state.exit_code
        record.started = record.started or now
        if state.status == FINISHED:
            record.set_status(FINISHED, now)
            self.store.save(record)
            self.page.publish(record, self.target)
            self.finish(otf_status=FINISHED, job_id=record.job_id, exit_code=0,
                        movies_fed=record.movies_fed)
            return
        if state.status == STOPPED:
            record.set_status(STOPPED, now)
            self.store.save(record)
            self.page.publish(record, self.target)
            self.finish(otf_status=STOPPED, job_id=record.job_id,
                        msg=f"cancelled outside emworker ({state.detail})")
            return
        self.submission.fail(record, state.exit_code,
                             f"job {record.job_id} ended {state.detail}")
