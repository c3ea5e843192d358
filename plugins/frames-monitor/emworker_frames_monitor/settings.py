"""Task args + plugin config -> the monitor's settings, validated once at setup."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from emhub_worker_core import EMhubServices, TaskError

from .movies import MovieRule

DEFAULTS = {
    "period": 30.0,        # seconds between scans
    "heartbeat": 600.0,    # resend the snapshot at least this often, changed or not
    "hot_window": 300.0,   # a folder changed this recently has its files re-stat-ed each scan
    "min_period": 5.0,     # a task cannot ask for scans more often than this
}

#: Every ``[plugins.frames-monitor]`` key this module (and MovieRule) reads.
CONFIG_KEYS = (*DEFAULTS, "root", "allowed_roots", "expect_mount", "movie_suffixes",
               "movie_excludes")


@dataclass(frozen=True)
class FramesSettings:
    root: Path
    root_source: str       # "task", "config" or "emhub" (where the root came from)
    period: float
    heartbeat: float
    hot_window: float
    movie_rule: MovieRule
    expect_mount: bool     # the root must be a mount point (else: "not mounted" error)


def load_settings(args: Mapping[str, Any], config: Mapping[str, Any],
                  emhub: EMhubServices) -> FramesSettings:
    """Resolve and check everything; raises :class:`TaskError` on a setting that can never work."""
    root, source = _resolve_root(args, config, emhub)
    if source == "task":
        _check_confined(root, config.get("allowed_roots"))
    min_period = _number(config, "min_period", DEFAULTS["min_period"], allow_zero=True)
    period = max(_number(args, "period", _number(config, "period", DEFAULTS["period"])),
                 min_period)
    heartbeat = _number(args, "heartbeat", _number(config, "heartbeat", DEFAULTS["heartbeat"]))
    hot_window = _number(config, "hot_window", DEFAULTS["hot_window"], allow_zero=True)
    try:
        rule = MovieRule.from_config(config)
    except ValueError as exc:
        raise TaskError(f"frames-monitor config: {exc}") from None
    return FramesSettings(root=root, root_source=source, period=period, heartbeat=heartbeat,
                          hot_window=hot_window, movie_rule=rule,
                          expect_mount=bool(config.get("expect_mount", False)))


def _resolve_root(args: Mapping[str, Any], config: Mapping[str, Any],
                  emhub: EMhubServices) -> tuple[Path, str]:
    """Task arg ``root`` > config ``root`` > EMhub ``config:sessions`` ``raw.root_frames``."""
    for value, source in ((args.get("root"), "task"), (config.get("root"), "config")):
        if value not in (None, ""):
            return _absolute(value, source), source
    sessions = emhub.request_config("sessions")
    raw = sessions.get("raw") if isinstance(sessions, Mapping) else None
    value = raw.get("root_frames") if isinstance(raw, Mapping) else None
    if not value:
        raise TaskError("no frames root: give the task arg 'root', the plugin config 'root', "
                        "or set raw.root_frames in EMhub's sessions config")
    return _absolute(value, "emhub"), "emhub"


def _absolute(value: Any, source: str) -> Path:
    if not isinstance(value, str) or not os.path.isabs(value):
        raise TaskError(f"frames root from {source} must be an absolute path, got {value!r}")
    return Path(os.path.normpath(value))


def _check_confined(root: Path, allowed: Optional[Sequence[str]]) -> None:
    """A root chosen by a task must lie inside one of the admin's ``allowed_roots``."""
    if allowed is None:
        return
    if isinstance(allowed, str):
        allowed = [allowed]
    real = os.path.realpath(root)
    for base in allowed:
        base_real = os.path.realpath(base)
        if os.path.commonpath([real, base_real]) == base_real:
            return
    raise TaskError(f"frames root {str(root)!r} is outside the allowed roots "
                    f"{', '.join(map(str, allowed))}")


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
