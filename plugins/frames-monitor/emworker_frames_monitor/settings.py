"""Task args + plugin config -> the monitor's settings, validated once at setup."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from emhub_worker_core import EMhubServices, ServiceUnavailable, TaskError
from emhub_worker_core.guard import MovieRule

from .report import USAGE_STEP

DEFAULTS = {
    "period": 30.0,        # seconds between scans
    "heartbeat": 600.0,    # resend the snapshot at least this often, changed or not
    "hot_window": 300.0,   # a folder changed this recently has its files re-stat-ed each scan
    "min_period": 5.0,     # a task cannot ask for scans more often than this
}
#: Threads that list directories during a scan (0: all in the task's thread).
DEFAULT_SCAN_THREADS = 3

#: Every ``[plugins.frames-monitor]`` key this module (and MovieRule) reads.
CONFIG_KEYS = (*DEFAULTS, "root", "allowed_roots", "expect_mount", "movie_suffixes",
               "scan_threads", "usage_step")


@dataclass(frozen=True)
class FramesSettings:
    root: Path
    root_source: str       # "task", "config" or "emhub" (where the root came from)
    period: float
    heartbeat: float
    hot_window: float
    movie_rule: MovieRule
    scan_threads: int
    usage_step: float      # fraction of the disk usage must move by to count as a change
    expect_mount: bool     # the root must be a mount point (else: "not mounted" error)
    #: A root from a task must stay inside one of these real paths (checked at setup and
    #: again before every scan, as a folder on the share can be swapped for a link later).
    confine_to: tuple[str, ...] = ()


def load_settings(args: Mapping[str, Any], config: Mapping[str, Any],
                  emhub: EMhubServices) -> FramesSettings:
    """Resolve and check everything; raises :class:`TaskError` on a setting that can never work."""
    root, source = _resolve_root(args, config, emhub)
    min_period = _number(config, "min_period", DEFAULTS["min_period"], allow_zero=True)
    period = max(_number(args, "period", _number(config, "period", DEFAULTS["period"])),
                 min_period)
    heartbeat = _number(args, "heartbeat", _number(config, "heartbeat", DEFAULTS["heartbeat"]))
    hot_window = _number(config, "hot_window", DEFAULTS["hot_window"], allow_zero=True)
    try:
        rule = MovieRule.from_config(config)
    except ValueError as exc:
        raise TaskError(f"frames-monitor config: {exc}") from None
    confine_to: tuple[str, ...] = ()
    if source == "task":  # last: every other arg is checked even when this refuses
        confine_to = _bases_for_task_roots(root, config, emhub)
        outside = outside_of(root, confine_to)
        if outside:
            raise TaskError(outside)
    usage_step = config.get("usage_step", USAGE_STEP)
    if isinstance(usage_step, bool) or not isinstance(usage_step, (int, float)) \
            or not 0 <= usage_step <= 1:
        raise TaskError(f"'usage_step' must be a fraction from 0 to 1, got {usage_step!r}")
    threads = config.get("scan_threads", DEFAULT_SCAN_THREADS)
    if isinstance(threads, bool) or not isinstance(threads, int) or not 0 <= threads <= 64:
        raise TaskError(f"'scan_threads' must be a whole number from 0 to 64, got {threads!r}")
    return FramesSettings(root=root, root_source=source, period=period, heartbeat=heartbeat,
                          hot_window=hot_window, movie_rule=rule, scan_threads=threads,
                          usage_step=float(usage_step),
                          expect_mount=bool(config.get("expect_mount", False)),
                          confine_to=confine_to)


def _resolve_root(args: Mapping[str, Any], config: Mapping[str, Any],
                  emhub: EMhubServices) -> tuple[Path, str]:
    """Task arg ``root`` > config ``root`` > EMhub ``config:sessions`` ``raw.root_frames``."""
    for value, source in ((args.get("root"), "task"), (config.get("root"), "config")):
        if value not in (None, ""):
            return _absolute(value, source), source
    value = _emhub_root(emhub)
    if not value:
        raise TaskError("no frames root: give the task arg 'root', the plugin config 'root', "
                        "or set raw.root_frames in EMhub's sessions config")
    return _absolute(value, "emhub"), "emhub"


def _emhub_root(emhub: EMhubServices) -> Any:
    """``raw.root_frames`` of EMhub's ``config:sessions`` (None if unset)."""
    sessions = emhub.request_config("sessions")
    raw = sessions.get("raw") if isinstance(sessions, Mapping) else None
    return raw.get("root_frames") if isinstance(raw, Mapping) else None


def _absolute(value: Any, source: str) -> Path:
    if not isinstance(value, str) or not os.path.isabs(value):
        raise TaskError(f"frames root from {source} must be an absolute path, got {value!r}")
    return Path(os.path.normpath(value))


def _bases_for_task_roots(root: Path, config: Mapping[str, Any],
                          emhub: EMhubServices) -> tuple[str, ...]:
    """Where a task may point the monitor: ``allowed_roots`` if the admin set it; otherwise
    only the roots an admin already chose (config ``root``, EMhub's ``raw.root_frames``),
    so a task cannot make the worker list ``/etc`` and send the names to EMhub."""
    allowed = config.get("allowed_roots")
    if allowed is not None:
        if isinstance(allowed, str):
            allowed = [allowed]
        if not isinstance(allowed, Sequence) or not all(
                isinstance(b, str) and os.path.isabs(b) for b in allowed):
            raise TaskError(f"frames-monitor config: allowed_roots must be a list of absolute "
                            f"paths, got {allowed!r}")
        return tuple(os.path.realpath(b) for b in allowed)
    bases: list[str] = []
    if config.get("root") not in (None, ""):
        bases.append(os.path.realpath(_absolute(config["root"], "config")))
        if outside_of(root, bases) is None:
            return tuple(bases)  # no need to ask EMhub
    try:
        emhub_root = _emhub_root(emhub)
    except ServiceUnavailable:  # a local run without EMhub: only the config root counts
        emhub_root = None
    if emhub_root:
        bases.append(os.path.realpath(_absolute(emhub_root, "emhub")))
    return tuple(bases)


def outside_of(root: str | os.PathLike[str], bases: Sequence[str]) -> Optional[str]:
    """None if ``root`` (symlinks resolved) lies in one of ``bases``; else the error text."""
    real = os.path.realpath(root)
    for base in bases:
        if os.path.commonpath([real, base]) == base:
            return None
    if not bases:
        return (f"frames root {str(root)!r} from the task is not allowed: no frames root is "
                "configured (plugin config 'root' or EMhub's raw.root_frames) and no "
                "'allowed_roots' widens it")
    return (f"frames root {str(root)!r} is outside the allowed roots {', '.join(bases)} "
            "(set 'allowed_roots' in [plugins.frames-monitor] to widen them)")


def _number(source: Mapping[str, Any], key: str, default: float, *,
            allow_zero: bool = False) -> float:
    value = source.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TaskError(f"{key!r} must be a number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise TaskError(f"{key!r} must be positive, got {value!r}")
    return float(value)
