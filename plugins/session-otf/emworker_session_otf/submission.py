"""Submitting a session's job, once: the check before (another host, a job already queued
under the session's name), the submit, the check after (another host's older job wins),
and a failure reported once or retried. Owned by :class:`.handler.OtfHandler`."""

from __future__ import annotations

import logging
from typing import Any, Callable

from emhub_worker_core import EMhubServices

from .executors import ExecutorError
from .executors.base import FAILED, QUEUED, TERMINAL, OutcomeUnknown
from .inputs import OtfTarget
from .jobs import NotOurs, SessionJobs, job_order
from .launch import build_spec, log_tail
from .page import SessionPage
from .record import SUBMITTING, JobRecord, RecordStore
from .reports import TaskReports
from .settings import OtfSettings
from .workflow import WorkflowError


class Submission:
    """Builds the session's job from its workflow and submits it (again, after a failure,
    while retries are left). ``finish`` ends the task (the handler's ``done``)."""

    def __init__(self, target: OtfTarget, task_id: str, settings: OtfSettings,
                 store: RecordStore, jobs: SessionJobs, page: SessionPage,
                 reports: TaskReports, emhub: EMhubServices, finish: Callable[..., object],
                 clock: Callable[[], float], logger: logging.LoggerAdapter[Any]) -> None:
        self.target, self.sid, self.task_id = target, target.session_id, task_id
        self.settings, self.store, self.jobs, self.page = settings, store, jobs, page
        self.reports, self.emhub, self.finish = reports, emhub, finish
        self.clock, self.logger = clock, logger
        self.uncertain = ""  # why the last submit may or may not have made a job

    def another_host_has_it(self) -> bool:
        """EMhub's ``extra.otf`` (re-read now) or the scheduler knows a job of this session."""
        try:
            session = self.emhub.get_session(self.sid)
            extra = session.get("extra") if isinstance(session, dict) else None
            otf = extra.get("otf") if isinstance(extra, dict) else None
            adopted = self.jobs.adopt(dict(otf), self.task_id) if isinstance(otf, dict) \
                else None
            live = self.jobs.live()
        except NotOurs as exc:
            self.finish(error=f"refused: {exc}; send 'clear' to start again")
            return True
        except ExecutorError as exc:
            self.reports.once(error=f"cannot ask {self.jobs.executor.name} for this "
                                    f"session's jobs before submitting: {exc}")
            return True
        except Exception as exc:  # noqa: BLE001 - EMhub down: wait, never submit blind
            self.reports.once(error=f"cannot re-read session {self.sid} before submitting: "
                                    f"{exc}")
            return True
        if adopted is not None and adopted.status not in TERMINAL:
            self.finish(otf_status=adopted.status, job_id=adopted.job_id,
                        msg=f"host {adopted.host or '?'} runs this session's OTF job")
            return True
        if live:
            self.finish(otf_status=live[0].status, job_id=live[0].job_id,
                        msg=f"{self.jobs.executor.name} already runs job {live[0].job_id} "
                            f"({live[0].name}) for this session")
            return True
        return False

    def resume(self, record: JobRecord) -> None:
        """A record without a job id: find the job by its name, else submit (again)."""
        if record.job_name:
            try:
                found = self.jobs.executor.find(record.job_name)
            except ExecutorError as exc:
                self.reports.once(error=f"cannot look up job {record.job_name}: {exc}")
                return
            if found:  # submitted, then the id was lost (timeout, odd output, a crash)
                self._submitted(record, found)
                return
        if self.uncertain:
            why, self.uncertain = self.uncertain, ""
            self.fail(record, None, f"submit failed: {why}; no job {record.job_name} found")
            return
        self.submit(record)

    def submit(self, record: JobRecord) -> None:
        record.attempts += 1
        # unique across clears and reruns of the session, stable across restarts (saved)
        record.job_name = f"emworker-otf-{self.sid}-{int(record.created)}-{record.attempts}"
        record.set_status(SUBMITTING, self.clock())
        self.store.save(record)  # before the scheduler hears of it
        self.page.publish(record, self.target)
        try:
            spec = build_spec(self.target, record.job_name, record.gain,
                              self.settings.job_environment())
            job_id = self.jobs.executor.submit(spec)
        except OutcomeUnknown as exc:  # the job may exist: looked up by name next step
            self.uncertain = str(exc)
            self.reports.once(otf_status=SUBMITTING, job_name=record.job_name,
                              error=f"submit not confirmed ({exc}); looking for the job by "
                                    "its name")
            return
        except (ExecutorError, WorkflowError, OSError) as exc:
            self.fail(record, None, f"submit failed: {exc}")
            return
        if self._lost_the_race(job_id):
            return
        self._submitted(record, job_id)

    def _lost_the_race(self, job_id: str) -> bool:
        """Looked up by name again after the submit: another host's job for this session
        that is older than ours wins (EMhub has no compare-and-set); ours is cancelled and
        forgotten, and this task ends without writing ``extra.otf``."""
        try:
            live = self.jobs.live()
        except ExecutorError:
            return False  # asked before the submit; the next lookup is a restart's
        older = [job for job in live if job_order(job.job_id) < job_order(job_id)][:1]
        if not older:
            return False
        why = self.jobs.cancel_confirmed(job_id)
        if why:  # ours stays recorded: tracked (and stoppable) like any job of ours
            self.reports.once(error=f"job {older[0].job_id} of this session appeared "
                                    f"while submitting ours; {why}")
            return False
        self.store.remove(self.sid)
        self.finish(msg=f"{self.jobs.executor.name} job {older[0].job_id} ({older[0].name}) "
                        "was submitted for this session by another host first; ours "
                        f"({job_id}) was cancelled")
        return True

    def _submitted(self, record: JobRecord, job_id: str) -> None:
        executor = self.jobs.executor
        now = self.clock()
        record.job_id, record.submitted = job_id, now
        record.log = str(executor.log_path(self.target.otf_path / "otf-submit.log", job_id))
        record.exit_code, record.log_tail, record.started, record.ended = None, "", 0.0, 0.0
        record.set_status(QUEUED, now)
        self.store.save(record)
        self.logger.info("submitted %s job %s for session %s", executor.name, job_id,
                         self.sid)
        self.page.publish(record, self.target)
        self.reports.send(otf_status=QUEUED, job_id=job_id, executor=executor.name)

    def fail(self, record: JobRecord, exit_code: int | None, message: str) -> None:
        """Report the failure once; resubmit while retries are left."""
        now = self.clock()
        record.exit_code, record.ended = exit_code, now
        record.log_tail = log_tail(self.target, record.log, self.settings.log_tail_lines)
        if record.attempts <= self.settings.retries:
            self.logger.warning("%s; retrying (%d of %d)", message, record.attempts,
                                self.settings.retries)
            self.reports.send(otf_status=FAILED, error=message, retrying=1,
                              exit_code=exit_code, log_tail=record.log_tail)
            record.job_id, record.log = "", ""
            self.submit(record)
            return
        record.set_status(FAILED, now)
        self.store.save(record)
        self.page.publish(record, self.target)
        self.logger.error("%s (exit code %s)", message, exit_code)
        self.finish(otf_status=FAILED, error=message, job_id=record.job_id,
                    exit_code=exit_code, log_tail=record.log_tail)
