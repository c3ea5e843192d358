"""What EMhub's session page shows of the OTF job: ``extra.otf`` and ``data_path``.

EMhub copies a non-empty ``extra.otf.path`` into ``data_path``, and its live view renders
only a folder it knows (:mod:`.project`): ``path`` goes out as what ``data_path`` is, the
OTF folder as ``folder``.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, Optional

from emhub_worker_core import EMhubServices

from .inputs import OtfTarget
from .project import BELOW_LIVE_VIEW, renders, status_view
from .record import JobRecord


def now_text() -> str:
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


class SessionPage:
    """Publishes one session's job record to EMhub; an outage is retried next step."""

    def __init__(self, emhub: EMhubServices, session_id: int,
                 logger: logging.LoggerAdapter[Any]) -> None:
        self.emhub, self.sid, self.logger = emhub, session_id, logger
        self.data_path = ""  # what this task set data_path to
        #: the record changed (or the last publish failed): publish at the end of the step
        self.outdated = False

    def publish(self, record: Optional[JobRecord], target: OtfTarget) -> None:
        """Send the complete ``extra.otf``; an EMhub outage is retried next step."""
        if record is None:
            return
        otf = record.extra_otf(target.otf_extra)
        try:
            self._set_data_path(record, target, str(otf.get("status", "")))
            # EMhub copies a non-empty extra.otf.path into data_path: `path` is what
            # data_path is, the OTF folder goes out as `folder`
            otf["folder"], otf["path"] = str(target.otf_path), self.data_path
            self.emhub.update_session_extra(self.sid, {"otf": otf, "updated": now_text()})
            self.outdated = False
        except Exception as exc:  # noqa: BLE001 - any failure: keep the job, say so, retry
            self.outdated = True
            self.logger.warning("extra.otf of session %s not updated (retry next step): %s",
                                self.sid, exc)

    def unpublish(self, target: OtfTarget) -> None:
        """After a clear: ``extra.otf`` without the old job and status first (no job now:
        its id and status must not be taken for a live one; EMhub shows the details view),
        then an empty ``data_path``, so the page renders between the two calls too."""
        keep = target.otf_extra
        otf = {**keep, "folder": keep.get("folder") or keep.get("path") or "", "path": ""}
        try:  # ("path" would be copied into data_path by EMhub)
            self.emhub.update_session_extra(self.sid, {"otf": otf, "updated": now_text()})
            self.emhub.set_session_data_path(self.sid, "")
            self.data_path = ""
        except Exception as exc:  # noqa: BLE001 - said; the next publish sends both
            self.logger.warning("extra.otf/data_path of session %s not reset: %s",
                                self.sid, exc)

    def due(self, record: Optional[JobRecord], target: OtfTarget) -> bool:
        """Publish now: the record changed, or a Scipion workflow's project has appeared
        since ``data_path`` was set."""
        if self.outdated:
            return True
        return bool(self.data_path) and self.data_path != str(target.otf_path) \
            and record is not None and record.attempts > 0 \
            and renders(target.workflow.project, target.otf_path)

    def _set_data_path(self, record: JobRecord, target: OtfTarget, status: str) -> None:
        """Before ``status`` goes out, point ``data_path`` at a folder EMhub's live view
        renders (:mod:`.project`): never at a folder that does not exist (a session
        stopped while it waited for movies has none: it gets the status view)."""
        if status in BELOW_LIVE_VIEW:
            return
        submitted = record.attempts > 0  # else a left-over folder is not this run's
        folder = target.otf_path if submitted and renders(target.workflow.project,
                                                          target.otf_path) \
            else status_view(target.otf_root)
        if str(folder) != self.data_path:
            self.emhub.set_session_data_path(self.sid, str(folder))
            self.data_path = str(folder)
