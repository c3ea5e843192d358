"""``stop`` and ``clear``: the session's job cancelled until the scheduler confirms it,
and for ``clear`` the OTF folder moved aside and the record forgotten. Owned by
:class:`.handler.OtfHandler`; nothing here touches a job :class:`.jobs.SessionJobs` does
not confirm as this session's."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional

from .executors.base import STOPPED, TERMINAL
from .folder import move_aside
from .inputs import OtfTarget
from .jobs import NotOurs, SessionJobs
from .page import SessionPage
from .record import STOPPING, JobRecord, RecordError, RecordStore
from .registry import FolderRegistry
from .reports import TaskReports


def without_job(target: OtfTarget) -> OtfTarget:
    """``target`` with an ``extra.otf`` that names no job (after a clear)."""
    keep = {k: v for k, v in target.otf_extra.items()
            if k in ("path", "folder", "workflow", "host", "cryolo_model")}
    return OtfTarget(**{**target.__dict__, "otf_extra": keep})


class StopAndClear:
    """Cancels one session's job for a ``stop`` or ``clear`` task. ``lock`` is the
    session's (:func:`.record.session_lock`); ``finish`` ends the task."""

    def __init__(self, target: OtfTarget, task_id: str, store: RecordStore,
                 folders: FolderRegistry, jobs: SessionJobs, page: SessionPage,
                 reports: TaskReports, finish: Callable[..., object],
                 clock: Callable[[], float], lock: threading.Lock,
                 logger: logging.LoggerAdapter[Any]) -> None:
        self.target, self.sid, self.task_id = target, target.session_id, task_id
        self.store, self.folders, self.jobs, self.page = store, folders, jobs, page
        self.reports, self.finish, self.clock = reports, finish, clock
        self.lock, self.logger = lock, logger

    def _mark_stopping(self, record: JobRecord) -> None:
        record.set_status(STOPPING, self.clock())
        self.store.save(record)
        self.page.publish(record, self.target)

    def start(self) -> bool:
        """``stop``: ``stopping`` first (so the tracking task cannot call the cancel a
        failure); True when the cancel is to be made (:meth:`step`) and confirmed."""
        with self.lock:
            refused = ""
            try:
                record = self.store.load(self.sid)
            except RecordError as exc:
                record, refused = None, str(exc)
            if record is None:
                try:
                    record = self.jobs.adopt(dict(self.target.otf_extra), self.task_id)
                except NotOurs as exc:
                    record, refused = None, f"refused: {exc}"
            if record is not None and record.status in TERMINAL:
                self.finish(otf_status=record.status, msg="no running OTF job for this session")
                return False
            if record is None:  # a task still waiting for movies sees this and ends
                record = JobRecord(session_id=self.sid, owner_task=self.task_id,
                                   path=str(self.target.otf_path),
                                   workflow=self.target.workflow.name, host=self.target.host,
                                   executor=self.jobs.executor.name, created=self.clock())
            self.jobs.use(record.executor)
            self._mark_stopping(record)
            if refused:
                self.reports.send(error=refused)
        return True

    def step(self) -> None:
        """One attempt of the stop task: cancel, confirm; ``stopped`` only once the job
        has left the queue, else say so and try again next step."""
        with self.lock:
            record = self.store.load(self.sid)
            if record is None or record.status != STOPPING:
                self.finish(msg="the session's job record changed (cleared)")
                return
            errors = self.jobs.cancel_all(record)
            if errors:
                self.page.publish(record, self.target)
                self.reports.once(error="; ".join(errors) + " (status stopping; retrying)")
                return
            now = self.clock()
            record.set_status(STOPPED, now)
            record.ended = now
            self.store.save(record)
            self.page.publish(record, self.target)
            self.finish(otf_status=STOPPED, job_id=record.job_id)

    def clear(self) -> Optional[OtfTarget]:
        """Cancel the job, move the OTF folder aside, forget the record (caller holds the
        lock); the target without the job. None when a job could not be confirmed
        cancelled: the task has ended, or goes on as a stop task (:meth:`step`)."""
        try:
            record = self.store.load(self.sid)
        except RecordError as exc:  # set aside below like any record: clear mends it
            self.logger.warning("%s; setting it aside", exc)
            record = None
        if record is not None:
            self.jobs.use(record.executor)
        live = record is not None and record.status not in TERMINAL
        errors = self.jobs.cancel_all(record if live else None)
        if errors:  # nothing moved, nothing submitted while the old job may still run
            refused = "clear refused: " + "; ".join(errors)
            if record is None:
                self.finish(error=refused + "; send 'clear' again once it is gone")
                return None
            self._mark_stopping(record)
            # this task goes on as a stop task: the cancel is retried until confirmed
            self.reports.once(error=refused + "; cancelling until confirmed (status "
                              "stopping), then send 'clear' again", otf_status=STOPPING)
            return None
        try:
            moved = move_aside(self.target)
        except OSError as exc:
            self.finish(error=f"clear refused: OTF folder not moved aside: {exc}")
            return None
        self.folders.forget(self.sid)
        self.store.remove(self.sid)
        self.target = without_job(self.target)
        self.page.unpublish(self.target)
        self.reports.send(msg="cleared", moved_to=str(moved or ""))
        return self.target
