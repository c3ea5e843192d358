"""The task handlers: ``transfer`` (move a session to storage) and ``monitor``."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from emhub_worker_core import TaskHandler

from .claims import FramesClaims, owner_of
from .copier import DestinationError
from .engine import Candidate, SessionTransfer
from .paths import PathRefused, confine
from .session import SessionTarget, parse_seconds, parse_session_id, resolve_target
from .settings import TransferSettings
from .stats import SessionStats
from .walk import walk


def _now_text() -> str:
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def _problem_text(problems: list[str]) -> str:
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return "; ".join(problems[:3]) + more


class TransferHandler(TaskHandler):
    """Moves movies and copies other files of a session until the session is over."""

    def setup(self) -> None:
        self.settings = self.read_settings(TransferSettings)
        self.engine: SessionTransfer | None = None
        self.target: SessionTarget | None = None
        self.retry = 0.0
        self._reported: list[str] = []   # source problems last sent, not repeated each scan
        self._activity: tuple[float, float] | None = None  # engine's last (wall, monotonic)
        try:
            sleep = parse_seconds(self.args, "sleep", 0.0)
            self.target = resolve_target(self.args, self.settings, self.emhub)
        except (PathRefused, ValueError) as exc:
            self.logger.error("refused: %s", exc)
            self.done(error=f"refused: {exc}")
            return
        if not self._claim_frames():
            return
        # `sleep` delays the first scan (the core calls process() at once)
        self._not_before = self.context.monotonic() + sleep if sleep else None
        self.interval = sleep
        paths = self.target.paths
        self.logger.info("transfer %s -> %s", paths.frames, paths.raw)
        self.engine = SessionTransfer(paths.frames, paths.raw, self.target.raw_root,
                                      self.settings, self.context.clock, self.logger)
        self._opened = False

    def _claim_frames(self) -> bool:
        """The frames folder is this session's as far as this worker knows (claims.py)."""
        assert self.target is not None
        paths = self.target.paths
        if self.context.state_dir is None:  # a context built by hand: no record to keep
            self.logger.warning("no state folder: %s is not checked against the frames "
                                "folders of other sessions", paths.frames)
            return True
        try:
            FramesClaims(self.context.state_dir).claim(
                paths.frames, owner_of(self.target.session_id, paths.raw), paths.raw)
        except PathRefused as exc:
            self.logger.error("refused: %s", exc)
            self.done(error=f"refused: {exc}")
            return False
        except (OSError, ValueError) as exc:
            self.logger.error("cannot record the frames folder in %s: %s",
                              self.context.state_dir, exc)
            self.done(error=f"cannot record whose frames folder {paths.frames} is: {exc}")
            return False
        return True

    def teardown(self) -> None:
        if getattr(self, "engine", None) is not None:
            assert self.engine is not None
            self.engine.close()

    def process(self) -> None:
        assert self.engine is not None and self.target is not None
        if self._not_before is not None:
            early = self._not_before - self.context.monotonic()
            if early > 0:
                self.interval = early
                return
            self._not_before = None
        try:
            if not self._opened:
                self.engine.open()
                self._opened = True
                self._publish()
            ready, pending = self._scan()
            step = self.engine.transfer(ready, self._progress, lambda: self.stopping)
        except DestinationError as exc:
            self._back_off(str(exc))
            return
        self._report_source_problems(self.engine.problems + step.source_problems)
        if step.errors:
            self._back_off("; ".join(step.errors[:3]))
            return
        self.retry = 0.0
        now = self.context.clock()
        if step.new_files:  # more may be waiting: look again at once
            self.mark_progress()  # without it the core's min_interval floor applies
            self.interval = 0.0
        elif pending:
            self.interval = min(self.settings.period, self.settings.quiet_seconds)
        else:  # look again when the idle rule may end the session, not a period later
            idle_left = self.settings.stop_after_idle - self._idle_for()
            self.interval = max(0.0, min(self.settings.period, idle_left))
        if self._session_over(pending, bool(step.source_problems), now):
            self._finish()

    def _scan(self) -> tuple[list[Candidate], int]:
        """Settled files, and how many still settle. A file settles on a second look;
        when the quiet period is already over by the end of this scan (quiet_seconds = 0,
        or a long walk), that look is taken now, not after a wait the core's
        ``min_interval`` floors (5 s by default, for a session already complete)."""
        assert self.engine is not None
        ready, pending = self.engine.scan()
        if pending and not ready:  # files seen: last_activity is this scan's time
            if self.context.clock() - self.engine.last_activity >= self.settings.quiet_seconds:
                ready, pending = self.engine.scan()
        return ready, pending

    def _back_off(self, message: str) -> None:
        """Destination trouble: say so, leave the sources alone, try again later."""
        self.retry = min(max(self.retry * 2, self.settings.retry_seconds),
                         self.settings.retry_max_seconds)
        self.interval = self.retry
        self.logger.warning("destination problem, retry in %.0f s: %s", self.retry, message)
        self.update({"error": f"destination problem: {message}", "retry_in": int(self.retry)})

    def _report_source_problems(self, problems: list[str]) -> None:
        """Unreadable, truncated or swapped sources: an error event when the set changes
        (each scan retries them; the log has every try)."""
        for problem in problems:
            self.logger.warning("source problem: %s", problem)
        if problems and sorted(problems) != self._reported:
            self.update({"error": f"source problem, retried: {_problem_text(problems)}",
                         "source_problems": len(problems)})
        self._reported = sorted(problems)

    def _session_over(self, pending: int, source_trouble: bool, now: float) -> bool:
        """Idle long enough with nothing settling and nothing unreadable, or past the
        hard cap whatever arrives."""
        assert self.engine is not None
        quiet = not pending and not self.engine.problems and not source_trouble
        if quiet and self._idle_for() >= self.settings.stop_after_idle:
            return True
        first = self.engine.first_activity
        return first is not None and now - first >= self.settings.stop_after

    def _idle_for(self) -> float:
        """Seconds since the engine's last activity, on the monotonic clock (a wall-clock
        step must not end a session); the manifest's wall time only says how long before
        this process first saw it."""
        assert self.engine is not None
        wall, mono = self.engine.last_activity, self.context.monotonic()
        if self._activity is None or self._activity[0] != wall:
            self._activity = (wall, mono - max(0.0, self.context.clock() - wall))
        return mono - self._activity[1]

    def _raw(self) -> dict[str, Any]:
        assert self.engine is not None and self.target is not None
        raw = {**self.target.raw_extra, **self.engine.stats.as_raw()}
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
        if self._reported:  # the hard cap ended it with parts we could never read
            final["error"] = f"left unread at the source: {_problem_text(self._reported)}"
        self.done(**final, total_files=raw["files_total"], total_movies=raw["movies"],
                  removed_folders=removed)


class MonitorHandler(TaskHandler):
    """Keeps ``extra.raw`` current for a raw folder filled by something else.

    With a ``session_id`` it updates that session; with only ``raw`` (run without EMhub)
    it reports the same figures as events.
    """

    def setup(self) -> None:
        self.settings = self.read_settings(TransferSettings)
        self.path: Path | None = None
        self.session_id: int | None = None
        self.raw_extra: dict[str, Any] = {}
        try:
            self.interval = parse_seconds(self.args, "sleep", 60.0)
            self.repeat = _parse_repeat(self.args.get("repeat", 1))
            self.session_id = parse_session_id(self.args.get("session_id"))
            if self.session_id is None and not self.args.get("raw"):
                raise PathRefused("monitor needs session_id (or raw, the folder to report)")
            if self.session_id is not None:
                session = self.emhub.get_session(self.session_id)
                self.raw_extra = dict((session.get("extra") or {}).get("raw") or {})
            root = self.settings.raw_root or \
                (self.emhub.request_config("sessions").get("raw") or {}).get("root", "")
            path = self.args.get("raw") or self.raw_extra.get("path")
            if not path or not root:
                raise PathRefused("no raw path (extra.raw.path) or raw root configured")
            self.path = confine(str(path), Path(root), what="raw folder")
        except PathRefused as exc:
            self.logger.error("refused: %s", exc)
            self.done(error=f"refused: {exc}")

    def process(self) -> None:
        assert self.path is not None
        found = walk(self.path)
        stats = SessionStats()
        for rel, st in found.files:
            stats.add(rel, st.st_size, st.st_mtime, self.settings.is_movie(rel))
        raw = {**self.raw_extra, **stats.as_raw(), "path": str(self.path) + "/"}
        if self.session_id is not None:
            self.emhub.update_session_extra(self.session_id,
                                            {"raw": raw, "updated": _now_text()})
        info = {k: v for k, v in raw.items() if k != "files"}
        if found.problems:
            self.logger.warning("unreadable: %s", "; ".join(found.problems))
            info["error"] = f"unreadable, not counted: {_problem_text(found.problems)}"
        if self.repeat and self.count >= self.repeat:
            self.done(**info)
        else:
            self.update(info)


def _parse_repeat(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise PathRefused(f"repeat must be a whole number >= 0, not {value!r}")
