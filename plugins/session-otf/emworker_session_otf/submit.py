"""Submitting a session's job, once: the checks before (another task, another host, a job
already queued under the session's name), the submit, the check after (another host's
older job wins), and a failure reported once or retried. Used by :mod:`.handler`."""

from __future__ import annotations

from .control import NotOurs, OtfSessionHandler, job_order
from .executors import ExecutorError
from .executors.base import FAILED, QUEUED, STOPPED, TERMINAL, OutcomeUnknown
from .launch import build_spec, log_tail
from .record import STOPPING, SUBMITTING, JobRecord
from .workflow import WorkflowError


class OtfSubmission(OtfSessionHandler):
    """The submit steps of :class:`.handler.OtfHandler`."""

    _uncertain = ""  # why the last submit may or may not have made a job
    _awaiting_stop = False  # a stop task is cancelling the job: end when it is confirmed

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

    def _another_host_has_it(self) -> bool:
        """EMhub's ``extra.otf`` (re-read now) or the scheduler knows a job of this session."""
        try:
            session = self.emhub.get_session(self.sid)
            extra = session.get("extra") if isinstance(session, dict) else None
            otf = extra.get("otf") if isinstance(extra, dict) else None
            adopted = self._adopt(dict(otf)) if isinstance(otf, dict) else None
            live = self._our_live_jobs()
        except NotOurs as exc:
            self.done(error=f"refused: {exc}; send 'clear' to start again")
            return True
        except ExecutorError as exc:
            self._report_once(error=f"cannot ask {self.executor.name} for this session's "
                                    f"jobs before submitting: {exc}")
            return True
        except Exception as exc:  # noqa: BLE001 - EMhub down: wait, never submit blind
            self._report_once(error=f"cannot re-read session {self.sid} before submitting: "
                                    f"{exc}")
            return True
        if adopted is not None and adopted.status not in TERMINAL:
            self.done(otf_status=adopted.status, job_id=adopted.job_id,
                      msg=f"host {adopted.host or '?'} runs this session's OTF job")
            return True
        if live:
            self.done(otf_status=live[0].status, job_id=live[0].job_id,
                      msg=f"{self.executor.name} already runs job {live[0].job_id} "
                          f"({live[0].name}) for this session")
            return True
        return False

    def _resume_submit(self) -> None:
        """A record without a job id: find the job by its name, else submit (again)."""
        record = self.record
        assert record is not None
        if record.job_name:
            try:
                found = self.executor.find(record.job_name)
            except ExecutorError as exc:
                self._report_once(error=f"cannot look up job {record.job_name}: {exc}")
                return
            if found:  # submitted, then the id was lost (timeout, odd output, a crash)
                self._submitted(record, found)
                return
        if self._uncertain:
            why, self._uncertain = self._uncertain, ""
            self._fail(record, None, f"submit failed: {why}; no job {record.job_name} found")
            return
        self._submit()

    def _submit(self) -> None:
        record = self.record
        assert record is not None
        record.attempts += 1
        # unique across clears and reruns of the session, stable across restarts (saved)
        record.job_name = f"emworker-otf-{self.sid}-{int(record.created)}-{record.attempts}"
        record.set_status(SUBMITTING, self.context.clock())
        self.store.save(record)  # before the scheduler hears of it
        self._publish()
        try:
            spec = build_spec(self.target, record.job_name, record.gain,
                              self.settings.job_environment())
            job_id = self.executor.submit(spec)
        except OutcomeUnknown as exc:  # the job may exist: looked up by name next step
            self._uncertain = str(exc)
            self._report_once(otf_status=SUBMITTING, job_name=record.job_name,
                              error=f"submit not confirmed ({exc}); looking for the job by "
                                    "its name")
            return
        except (ExecutorError, WorkflowError, OSError) as exc:
            self._fail(record, None, f"submit failed: {exc}")
            return
        if self._lost_the_race(record, job_id):
            return
        self._submitted(record, job_id)

    def _lost_the_race(self, record: JobRecord, job_id: str) -> bool:
        """Looked up by name again after the submit: another host's job for this session
        that is older than ours wins (EMhub has no compare-and-set); ours is cancelled and
        forgotten, and this task ends without writing ``extra.otf``."""
        try:
            live = self._our_live_jobs()
        except ExecutorError:
            return False  # asked before the submit; the next lookup is a restart's
        older = [job for job in live if job_order(job.job_id) < job_order(job_id)][:1]
        if not older:
            return False
        why = self._cancel_confirmed(job_id)
        if why:  # ours stays recorded: tracked (and stoppable) like any job of ours
            self._report_once(error=f"job {older[0].job_id} of this session appeared "
                                    f"while submitting ours; {why}")
            return False
        self.store.remove(self.sid)
        self.record = None
        self.done(msg=f"{self.executor.name} job {older[0].job_id} ({older[0].name}) was "
                      f"submitted for this session by another host first; ours ({job_id}) "
                      "was cancelled")
        return True

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

    def _fail(self, record: JobRecord, exit_code: int | None, message: str) -> None:
        """Report the failure once; resubmit while retries are left."""
        now = self.context.clock()
        record.exit_code, record.ended = exit_code, now
        record.log_tail = log_tail(self.target, record.log, self.settings.log_tail_lines)
        if record.attempts <= self.settings.retries:
            self.logger.warning("%s; retrying (%d of %d)", message, record.attempts,
                                self.settings.retries)
            self.update({"otf_status": FAILED, "error": message, "retrying": 1,
                         "exit_code": exit_code, "log_tail": record.log_tail,
                         "maxlen": self.settings.progress_maxlen})
            record.job_id, record.log = "", ""
            self._submit()
            return
        record.set_status(FAILED, now)
        self.store.save(record)
        self._publish()
        self.logger.error("%s (exit code %s)", message, exit_code)
        self.done(otf_status=FAILED, error=message, job_id=record.job_id,
                  exit_code=exit_code, log_tail=record.log_tail)
