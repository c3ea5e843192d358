"""What every OTF task of a session shares: its state, ``stop``, ``clear``, and publishing
``extra.otf`` and ``data_path`` to EMhub. The steps themselves are in :mod:`.handler`."""

from __future__ import annotations

import datetime
import threading

from emhub_worker_core import TaskHandler

from .executors import Executor, ExecutorError, make_executor
from .executors.base import STOPPED, TERMINAL
from .folder import move_aside
from .inputs import OtfTarget
from .project import renders
from .record import JobRecord, RecordError, RecordStore, record_from_extra
from .settings import OtfSettings


def now_text() -> str:
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


class OtfSessionHandler(TaskHandler):
    """State and control of one session's OTF job (subclassed by :class:`.OtfHandler`)."""

    settings: OtfSettings
    store: RecordStore
    target: OtfTarget
    sid: int
    lock: threading.Lock
    executor: Executor
    record: JobRecord | None = None
    _data_path_set = False

    # -- control --------------------------------------------------------------------------
    def _stop_job(self) -> None:
        with self.lock:
            try:
                record = self.store.load(self.sid) or \
                    record_from_extra(self.sid, self.target.otf_extra, self.task_id)
            except RecordError as exc:
                self.done(error=str(exc))
                return
            if record is not None and record.status in TERMINAL:
                self.done(otf_status=record.status, msg="no running OTF job for this session")
                return
            if record is None:  # a task still waiting for movies sees this and ends
                record = JobRecord(session_id=self.sid, owner_task=self.task_id,
                                   path=str(self.target.otf_path),
                                   workflow=self.target.workflow.name, host=self.target.host,
                                   executor=self.executor.name,
                                   created=self.context.clock())
            self.record = record
            executor = make_executor(record.executor or self.executor.name, self.runner,
                                     self.target.otf_path, self.settings.command_timeout)
            now = self.context.clock()
            record.set_status(STOPPED, now)
            record.ended = now
            self.store.save(record)  # first: the tracking task must not call it a failure
            error = ""
            if record.job_id:
                try:
                    executor.cancel(record.job_id)
                except ExecutorError as exc:
                    error = f"cancel failed: {exc}"
            self._publish()
            self.done(otf_status=STOPPED, job_id=record.job_id, **({"error": error}
                                                                   if error else {}))

    def _clear(self) -> None:
        """Cancel the job, move the OTF folder aside, forget the record (caller holds lock)."""
        record = self.store.load(self.sid)
        if record is not None and record.job_id and record.status not in TERMINAL:
            executor = make_executor(record.executor or self.executor.name, self.runner,
                                     self.target.otf_path, self.settings.command_timeout)
            try:
                executor.cancel(record.job_id)
            except ExecutorError as exc:
                self.report_error(exc)
        moved = move_aside(self.target.otf_path)
        try:  # the old data_path no longer exists; an empty one keeps the page working
            self.emhub.set_session_data_path(self.sid, "")
        except Exception as exc:  # noqa: BLE001 - said, and the new folder sets it again
            self.logger.warning("data_path of session %s not cleared: %s", self.sid, exc)
        self.store.remove(self.sid)
        self.target = self._without_job(self.target)
        self.update({"msg": "cleared", "moved_to": str(moved or ""),
                     "maxlen": self.settings.progress_maxlen})

    @staticmethod
    def _without_job(target: OtfTarget) -> OtfTarget:
        keep = {k: v for k, v in target.otf_extra.items()
                if k in ("path", "workflow", "host", "cryolo_model")}
        return OtfTarget(**{**target.__dict__, "otf_extra": keep})

    # -- EMhub ----------------------------------------------------------------------------
    def _set_data_path(self) -> None:
        """Point EMhub's live view at the OTF folder once it is a project EMhub renders
        (:mod:`.project`), and only for a job that was submitted: never for a session
        stopped while it still waited for movies."""
        if self._data_path_due():
            self.emhub.set_session_data_path(self.sid, str(self.target.otf_path))
            self._data_path_set = True

    def _data_path_due(self) -> bool:
        return not self._data_path_set and self.record is not None \
            and self.record.attempts > 0 \
            and renders(self.target.workflow.project, self.target.otf_path)

    def _publish(self) -> None:
        """Send the complete ``extra.otf``; an EMhub outage is retried next step."""
        if self.record is None:
            return
        otf = self.record.extra_otf(self.target.otf_extra)
        try:
            self._set_data_path()
            self.emhub.update_session_extra(self.sid, {"otf": otf, "updated": now_text()})
            self._dirty = False
        except Exception as exc:  # noqa: BLE001 - any failure: keep the job, say so, retry
            self._dirty = True
            self.logger.warning("extra.otf of session %s not updated (retry next step): %s",
                                self.sid, exc)
