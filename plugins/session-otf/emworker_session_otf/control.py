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
from .project import BELOW_LIVE_VIEW, renders, status_view
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
    _data_path = ""  # what this task set data_path to

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
        self.store.remove(self.sid)
        self.target = self._without_job(self.target)
        self._unpublish()
        self.update({"msg": "cleared", "moved_to": str(moved or ""),
                     "maxlen": self.settings.progress_maxlen})

    def _unpublish(self) -> None:
        """After a clear: ``extra.otf`` without the old job and status first (EMhub then
        shows the details view), then an empty ``data_path``, so the page renders between
        the two calls too."""
        try:
            if "folder" in self.target.otf_extra:  # we published it: take the status off
                otf = {**self.target.otf_extra, "path": ""}  # ("path" would be data_path)
                self.emhub.update_session_extra(self.sid, {"otf": otf, "updated": now_text()})
            self.emhub.set_session_data_path(self.sid, "")
            self._data_path = ""
        except Exception as exc:  # noqa: BLE001 - said, and the next publish sets both
            self.logger.warning("extra.otf/data_path of session %s not cleared: %s",
                                self.sid, exc)

    @staticmethod
    def _without_job(target: OtfTarget) -> OtfTarget:
        keep = {k: v for k, v in target.otf_extra.items()
                if k in ("path", "folder", "workflow", "host", "cryolo_model")}
        return OtfTarget(**{**target.__dict__, "otf_extra": keep})

    # -- EMhub ----------------------------------------------------------------------------
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


