"""What every OTF task of a session shares: its state, whose job is whose, ``stop``,
``clear``, and publishing ``extra.otf`` and ``data_path`` to EMhub. The steps themselves are
in :mod:`.handler`.

A job is ours only if the scheduler says so: its name is ``emworker-otf-<session>-...``
and its user is this worker's or the workflow's ``user``. Nothing else, and nothing EMhub
says, makes us adopt or cancel a job.
"""

from __future__ import annotations

import datetime
import os
import pwd
import re
import threading
import time
from typing import Any, Optional

from emhub_worker_core import TaskHandler
from emhub_worker_core.guard import PathRefused

from .executors import Executor, ExecutorError, make_executor
from .executors.base import QUEUED, RUNNING, STOPPED, TERMINAL, JobOwner, session_prefix
from .folder import move_aside
from .inputs import OtfTarget
from .project import BELOW_LIVE_VIEW, renders, status_view
from .record import STOPPING, JobRecord, RecordError, RecordStore, record_from_extra
from .registry import FolderRegistry
from .settings import OtfSettings

CONFIRM_SECONDS = 10.0  # a cancelled job leaves the queue within this, or "stopping" stays


def now_text() -> str:
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def job_order(job_id: str) -> list[int]:
    """Older first: scheduler ids grow (a local ``pid:start`` by its start time)."""
    numbers = [int(p) for p in re.findall(r"[0-9]+", job_id)]
    return numbers[::-1] if ":" in job_id else numbers


class NotOurs(RuntimeError):
    """EMhub names a job this worker cannot confirm as this session's: never touched."""


class OtfSessionHandler(TaskHandler):
    """State and control of one session's OTF job (subclassed by :class:`.OtfHandler`)."""

    settings: OtfSettings
    store: RecordStore
    folders: FolderRegistry
    target: OtfTarget
    sid: int
    lock: threading.Lock
    executor: Executor
    record: JobRecord | None = None
    _data_path = ""  # what this task set data_path to
    _dirty = False
    _cancelling = False

    # -- whose job ------------------------------------------------------------------------
    def _users(self) -> set[str]:
        users = {pwd.getpwuid(os.geteuid()).pw_name}  # not $USER: the environment may lie
        if self.target.workflow.options.get("user"):
            users.add(self.target.workflow.options["user"])
        return users

    def _is_ours(self, job: Optional[JobOwner]) -> bool:
        if job is None:
            return False
        pattern = re.escape(session_prefix(self.sid)) + r"[0-9]+-[0-9]+"
        return re.fullmatch(pattern, job.name) is not None and job.user in self._users()

    def _executor_for(self, name: str) -> Executor:
        return make_executor(name, self.runner, self.target.otf_path,
                             self.settings.command_timeout)

    def _our_live_jobs(self) -> list[JobOwner]:
        """This session's queued or running jobs, oldest first (ExecutorError if unknown)."""
        jobs = [job for job in self.executor.live_jobs(session_prefix(self.sid))
                if self._is_ours(job)]
        return sorted(jobs, key=lambda job: job_order(job.job_id))

    def _adopt(self, otf: dict[str, Any]) -> Optional[JobRecord]:
        """A record from EMhub's ``extra.otf`` (another host's, or before a lost state
        folder), used only once its job is confirmed ours. Raises :class:`NotOurs`."""
        record = record_from_extra(self.sid, otf, self.task_id)
        if record is None:
            return None
        if record.status in TERMINAL:
            record.job_id = ""  # shown as ended; never asked about, never cancelled
            return record
        if record.executor != self.executor.name:
            raise NotOurs(f"extra.otf names a {record.executor!r} job but workflow "
                          f"{self.target.workflow.name!r} runs on {self.executor.name}")
        try:
            job_id = self.executor.valid_id(record.job_id)
            job = self.executor.owner(job_id)
        except ExecutorError as exc:
            raise NotOurs(f"extra.otf job {record.job_id!r}: {exc}") from None
        if not self._is_ours(job):
            raise NotOurs(f"extra.otf names {self.executor.name} job {job_id}, which is not "
                          f"this session's ({session_prefix(self.sid)}..., user "
                          f"{' or '.join(sorted(self._users()))})")
        assert job is not None
        record.job_name, record.path = job.name, str(self.target.otf_path)
        record.log = str(self.executor.log_path(self.target.otf_path / "otf-submit.log", job_id))
        return record

    # -- cancelling -----------------------------------------------------------------------
    def _cancel_confirmed(self, job_id: str) -> str:
        """Cancel our job ``job_id``; '' once it has left the queue, else why not (yet)."""
        try:
            self.executor.valid_id(job_id)
            job = self.executor.owner(job_id)
            if job is None or job.status not in (QUEUED, RUNNING):
                return ""
            if not self._is_ours(job):
                return f"job {job_id} is not this session's ({job.name}, {job.user}): " \
                       "not cancelled"
            self.executor.cancel(job_id)
            deadline = time.monotonic() + CONFIRM_SECONDS
            while True:
                job = self.executor.owner(job_id)
                if job is None or job.status not in (QUEUED, RUNNING):
                    return ""
                if time.monotonic() > deadline:
                    return f"job {job_id} still {job.status} after the cancel"
                time.sleep(0.2)
        except ExecutorError as exc:
            return f"cancel of job {job_id} failed: {exc}"

    def _stop_job(self) -> None:
        """``stop``: ``stopping`` first (so the tracking task cannot call the cancel a
        failure), then cancel; ``stopped`` only once the job has left the queue."""
        with self.lock:
            refused = ""
            try:
                record = self.store.load(self.sid)
            except RecordError as exc:
                record, refused = None, str(exc)
            if record is None:
                try:
                    record = self._adopt(dict(self.target.otf_extra))
                except NotOurs as exc:
                    record, refused = None, f"refused: {exc}"
            if record is not None and record.status in TERMINAL:
                self.done(otf_status=record.status, msg="no running OTF job for this session")
                return
            if record is None:  # a task still waiting for movies sees this and ends
                record = JobRecord(session_id=self.sid, owner_task=self.task_id,
                                   path=str(self.target.otf_path),
                                   workflow=self.target.workflow.name, host=self.target.host,
                                   executor=self.executor.name, created=self.context.clock())
            if record.executor and record.executor != self.executor.name:
                self.executor = self._executor_for(record.executor)
            self.record = record
            record.set_status(STOPPING, self.context.clock())
            self.store.save(record)
            self._publish()
            if refused:
                self.update({"error": refused, "maxlen": self.settings.progress_maxlen})
        self._cancelling = True
        self.interval = max(self.settings.period, 1.0)
        self._cancel_step()

    def _cancel_step(self) -> None:
        """One attempt of the stop task: cancel, confirm; else say so and try again."""
        with self.lock:
            record = self.store.load(self.sid)
            if record is None or record.status != STOPPING:
                self.done(msg="the session's job record changed (cleared)")
                return
            self.record = record
            errors = [e for e in (self._cancel_confirmed(job_id) for job_id in
                                  self._jobs_to_cancel(record)) if e]
            if errors:
                self._publish()
                self._report_once(error="; ".join(errors) + " (status stopping; retrying)")
                return
            now = self.context.clock()
            record.set_status(STOPPED, now)
            record.ended = now
            self.store.save(record)
            self._publish()
            self.done(otf_status=STOPPED, job_id=record.job_id)

    def _jobs_to_cancel(self, record: Optional[JobRecord]) -> list[str]:
        """The recorded job, and any job of this session the scheduler knows by name (one
        submitted just before a crash, or recorded in a file that is now unreadable)."""
        ids = [record.job_id] if record is not None and record.job_id else []
        try:
            ids += [job.job_id for job in self._our_live_jobs() if job.job_id not in ids]
        except ExecutorError as exc:
            self.logger.warning("cannot list %s jobs by name: %s", self.executor.name, exc)
        return ids

    def _clear(self) -> bool:
        """Cancel the job, move the OTF folder aside, forget the record (caller holds lock).
        False (and the task ended) when a job could not be confirmed cancelled."""
        try:
            record = self.store.load(self.sid)
        except RecordError as exc:  # set aside below like any record: clear mends it
            self.logger.warning("%s; setting it aside", exc)
            record = None
        if record is not None and record.executor and record.executor != self.executor.name:
            self.executor = self._executor_for(record.executor)
        live = record is not None and record.status not in TERMINAL
        errors = [e for e in (self._cancel_confirmed(job_id) for job_id in
                              self._jobs_to_cancel(record if live else None)) if e]
        if errors:  # nothing moved, nothing submitted while the old job may still run
            refused = "clear refused: " + "; ".join(errors)
            if record is None:
                self.done(error=refused + "; send 'clear' again once it is gone")
                return False
            self.record = record
            record.set_status(STOPPING, self.context.clock())
            self.store.save(record)
            self._publish()
            # this task goes on as a stop task: the cancel is retried until confirmed
            self._report_once(error=refused + "; cancelling until confirmed (status "
                              "stopping), then send 'clear' again", otf_status=STOPPING)
            self._cancelling = True
            self.interval = max(self.settings.period, 1.0)
            return False
        try:
            moved = move_aside(self.target)
        except OSError as exc:
            self.done(error=f"clear refused: OTF folder not moved aside: {exc}")
            return False
        self.folders.forget(self.sid)
        self.store.remove(self.sid)
        self.record = None
        self.target = self._without_job(self.target)
        self._unpublish()
        self.update({"msg": "cleared", "moved_to": str(moved or ""),
                     "maxlen": self.settings.progress_maxlen})
        return True

    @staticmethod
    def _without_job(target: OtfTarget) -> OtfTarget:
        keep = {k: v for k, v in target.otf_extra.items()
                if k in ("path", "folder", "workflow", "host", "cryolo_model")}
        return OtfTarget(**{**target.__dict__, "otf_extra": keep})

    def _check_folder(self) -> None:
        """The OTF folder is this session's (see :mod:`.registry`); adopt a legacy one."""
        self.folders.check(self.target)
        if self.folders.entry(self.sid) is None and self.target.otf_path.is_dir():
            self.folders.record(self.target)

    # -- EMhub ----------------------------------------------------------------------------
    _last_report: tuple[Any, ...] = ()

    def _report_once(self, **fields: Any) -> None:
        """An event only when it differs from the last one: history is not flooded."""
        key = tuple(sorted(fields.items()))
        if key != self._last_report:
            self._last_report = key
            if "error" in fields:
                self.logger.error("%s", fields["error"])
            self.update({**fields, "maxlen": self.settings.progress_maxlen})

    def _unpublish(self) -> None:
        """After a clear: ``extra.otf`` without the old job and status first (no job now:
        its id and status must not be taken for a live one; EMhub shows the details view),
        then an empty ``data_path``, so the page renders between the two calls too."""
        keep = self.target.otf_extra
        otf = {**keep, "folder": keep.get("folder") or keep.get("path") or "", "path": ""}
        try:  # ("path" would be copied into data_path by EMhub)
            self.emhub.update_session_extra(self.sid, {"otf": otf, "updated": now_text()})
            self.emhub.set_session_data_path(self.sid, "")
            self._data_path = ""
        except Exception as exc:  # noqa: BLE001 - said; the next publish sends both
            self.logger.warning("extra.otf/data_path of session %s not reset: %s",
                                self.sid, exc)

    def _set_data_path(self, status: str) -> None:
        """Before ``status`` goes out, point ``data_path`` at a folder EMhub's live view
        renders (:mod:`.project`): never at a folder that does not exist (a session
        stopped while it waited for movies has none: it gets the status view)."""
        if status in BELOW_LIVE_VIEW:
            return
        assert self.record is not None
        submitted = self.record.attempts > 0  # else a left-over folder is not this run's
        folder = self.target.otf_path if submitted and renders(self.target.workflow.project,
                                                               self.target.otf_path) \
            else status_view(self.target.otf_root)
        if str(folder) != self._data_path:
            self.emhub.set_session_data_path(self.sid, str(folder))
            self._data_path = str(folder)

    def _data_path_due(self) -> bool:
        """A Scipion workflow's project has appeared since ``data_path`` was set."""
        return bool(self._data_path) and self._data_path != str(self.target.otf_path) \
            and self.record is not None and self.record.attempts > 0 \
            and renders(self.target.workflow.project, self.target.otf_path)

    def _publish(self) -> None:
        """Send the complete ``extra.otf``; an EMhub outage is retried next step."""
        if self.record is None:
            return
        otf = self.record.extra_otf(self.target.otf_extra)
        try:
            self._set_data_path(str(otf.get("status", "")))
            # EMhub copies a non-empty extra.otf.path into data_path: `path` is what
            # data_path is, the OTF folder goes out as `folder`
            otf["folder"], otf["path"] = str(self.target.otf_path), self._data_path
            self.emhub.update_session_extra(self.sid, {"otf": otf, "updated": now_text()})
            self._dirty = False
        except Exception as exc:  # noqa: BLE001 - any failure: keep the job, say so, retry
            self._dirty = True
            self.logger.warning("extra.otf of session %s not updated (retry next step): %s",
                                self.sid, exc)


__all__ = ["NotOurs", "OtfSessionHandler", "PathRefused"]
