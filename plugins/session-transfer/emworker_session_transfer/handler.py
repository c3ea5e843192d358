"""The task handlers: ``transfer`` (move a session to storage) and ``monitor``."""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

from emhub_worker_core import TaskHandler

from .copier import TEMP_PREFIX, DestinationError
from .engine import SessionTransfer
from .manifest import MANIFEST_DIR
from .paths import PathRefused, confine
from .session import SessionTarget, resolve_target
from .settings import TransferSettings
from .stats import raw_info


def _now_text() -> str:
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


class TransferHandler(TaskHandler):
    """Moves movies and copies other files of a session until the session is over."""

    def setup(self) -> None:
        self.settings = TransferSettings.from_config(self.config)
        self.interval = float(self.args.get("sleep", 0) or 0)
        self.engine: SessionTransfer | None = None
        self.target: SessionTarget | None = None
        self.retry = 0.0
        try:
            self.target = resolve_target(self.args, self.settings, self.emhub)
        except (PathRefused, ValueError) as exc:
            self.logger.error("refused: %s", exc)
            self.done(error=f"refused: {exc}")
            return
        paths = self.target.paths
        self.logger.info("transfer %s -> %s", paths.frames, paths.raw)
        self.engine = SessionTransfer(paths.frames, paths.raw, self.target.raw_root,
                                      self.settings, self.context.clock, self.logger)
        self._opened = False

    def teardown(self) -> None:
        if getattr(self, "engine", None) is not None:
            assert self.engine is not None
            self.engine.close()

    def process(self) -> None:
        assert self.engine is not None and self.target is not None
        try:
            if not self._opened:
                self.engine.open()
                self._opened = True
                self._publish()
            ready, pending = self.engine.scan()
            step = self.engine.transfer(ready, self._progress, lambda: self.stopping)
        except DestinationError as exc:
            self._back_off(str(exc))
            return
        if step.errors:
            self._back_off("; ".join(step.errors[:3]))
            return
        self.retry = 0.0
        if step.new_files:  # more may be waiting: look again at once
            self.mark_progress()  # without it the core's min_interval floor applies
            self.interval = 0.0
        elif pending:
            self.interval = min(self.settings.period, self.settings.quiet_seconds)
        else:
            self.interval = self.settings.period
        if self._session_over(pending):
            self._finish()

    def _back_off(self, message: str) -> None:
        """Destination trouble: say so, leave the sources alone, try again later."""
        self.retry = min(max(self.retry * 2, self.settings.retry_seconds),
                         self.settings.retry_max_seconds)
        self.interval = self.retry
        self.logger.warning("destination problem, retry in %.0f s: %s", self.retry, message)
        self.update({"error": f"destination problem: {message}", "retry_in": int(self.retry)})

    def _session_over(self, pending: int) -> bool:
        """Idle long enough with nothing settling, or past the hard cap whatever arrives."""
        assert self.engine is not None
        now = self.context.clock()
        if not pending and now - self.engine.last_activity >= self.settings.stop_after_idle:
            return True
        first = self.engine.first_activity
        return first is not None and now - first >= self.settings.stop_after

    def _raw(self) -> dict[str, Any]:
        assert self.engine is not None and self.target is not None
        raw = {**self.target.raw_extra, **raw_info(self.engine.dest_files())}
        raw.update(frames=str(self.target.paths.frames) + "/",
                   path=str(self.target.paths.raw) + "/")
        return raw

    def _publish(self) -> dict[str, Any]:
        """Send the complete ``extra.raw`` (EMhub replaces top-level keys whole)."""
        assert self.target is not None
        raw = self._raw()
        if self.target.session_id is not None:
            self.emhub.update_session_extra(self.target.session_id,
                                            {"raw": raw, "updated": _now_text()})
        return raw

    def _progress(self, new_files: int, new_movies: int) -> None:
        raw = self._publish()
        self.update({"new_files": new_files, "new_movies": new_movies,
                     "total_files": raw["files_total"], "total_movies": raw["movies"]})

    def _finish(self) -> None:
        assert self.engine is not None
        raw = self._publish()
        removed = self.engine.remove_empty_folders()
        final = {k: v for k, v in raw.items() if k not in ("files",) and v is not None}
        self.done(**final, total_files=raw["files_total"], total_movies=raw["movies"],
                  removed_folders=removed)


class MonitorHandler(TaskHandler):
    """Keeps ``extra.raw`` current for a raw folder filled by something else."""

    def setup(self) -> None:
        self.settings = TransferSettings.from_config(self.config)
        self.interval = float(self.args.get("sleep", 60))
        self.repeat = int(self.args.get("repeat", 1))
        self.session_id = int(self.args["session_id"])
        session = self.emhub.get_session(self.session_id)
        self.raw_extra = dict((session.get("extra") or {}).get("raw") or {})
        root = self.settings.raw_root or \
            (self.emhub.request_config("sessions").get("raw") or {}).get("root", "")
        path = self.args.get("raw") or self.raw_extra.get("path")
        try:
            if not path or not root:
                raise PathRefused("no raw path (extra.raw.path) or raw root configured")
            self.path: Path | None = confine(str(path), Path(root), "raw folder")
        except PathRefused as exc:
            self.path = None
            self.done(error=f"refused: {exc}")

    def process(self) -> None:
        assert self.path is not None
        files = list(_scan_files(self.path, self.settings))
        raw = {**self.raw_extra, **raw_info(files), "path": str(self.path) + "/"}
        self.emhub.update_session_extra(self.session_id, {"raw": raw, "updated": _now_text()})
        info = {k: v for k, v in raw.items() if k != "files"}
        if self.repeat and self.count >= self.repeat:
            self.done(**info)
        else:
            self.update(info)


class _FileFact:
    def __init__(self, path: str, size: int, mtime: float, movie: bool) -> None:
        self.path, self.size, self.movie, self._mtime = path, size, movie, mtime

    @property
    def mtime(self) -> float:
        return self._mtime


def _scan_files(root: Path, settings: TransferSettings) -> list[_FileFact]:
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != MANIFEST_DIR]
        for name in names:
            if name.startswith(TEMP_PREFIX):
                continue
            path = os.path.join(folder, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            rel = os.path.relpath(path, root)
            found.append(_FileFact(rel, st.st_size, st.st_mtime, settings.is_movie(rel)))
    return found
