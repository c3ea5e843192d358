"""Task args + plugin config -> the monitor's settings: declared once (:class:`FramesOptions`,
read by the core's rules), then resolved at setup (the root, its confinement)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from emhub_worker_core import (
    EMhubServices,
    ServiceUnavailable,
    TaskError,
    parse_settings,
    setting,
)
from emhub_worker_core.guard import DEFAULT_MOVIE_SUFFIXES, MovieRule, movie_suffixes

from .report import USAGE_STEP

PLUGIN = "frames-monitor"

def _absolute_paths(value: Any) -> list[str]:
    paths = [value] if isinstance(value, str) else value
    if not isinstance(paths, (list, tuple)) or not all(
            isinstance(p, str) and os.path.isabs(p) for p in paths):
        raise ValueError(f"allowed_roots must be a list of absolute paths, got {value!r}")
    return list(paths)


@dataclass(frozen=True)
class FramesOptions:
    """What the admin (``[plugins.frames-monitor]``) and, where allowed, the task set."""

    period: float = setting(30.0, "seconds between two scans (never below min_period)",
                            above=0, task_arg=True, unit="seconds")
    heartbeat: float = setting(600.0, "resend the snapshot at least this often, changed or "
                                      "not", above=0, task_arg=True, unit="seconds")
    hot_window: float = setting(300.0, "a folder changed this recently has its files "
                                       "re-read each scan", minimum=0, unit="seconds")
    min_period: float = setting(5.0, "the shortest period a task may ask for", minimum=0,
                                unit="seconds")
    root: str = setting("", "the frames folder (absolute); else EMhub's sessions config "
                            "raw.root_frames", task_arg=True)
    allowed_roots: Optional[tuple[str, ...]] = setting(
        None, "folders a task's own root must lie inside (else the configured roots)",
        convert=_absolute_paths)
    expect_mount: bool = setting(False, "the root must be a mount point (else a 'not "
                                        "mounted' error)")
    movie_suffixes: tuple[str, ...] = setting(
        DEFAULT_MOVIE_SUFFIXES, "file name endings that are movies (as session-transfer's; "
        "case as written)", convert=movie_suffixes)
    scan_threads: int = setting(3, "threads that list folders when listings wait on I/O "
                                   "(0: none)", minimum=0, maximum=64)
    scan_processes: int = setting(2, "processes for the first full scan of a big tree (1: "
                                     "the task's only; 2: one scan child too)",
                                  minimum=1, maximum=2)
    usage_step: float = setting(USAGE_STEP, "fraction the disk usage must move by to count "
                                            "as a change", minimum=0, maximum=1)


@dataclass(frozen=True)
class FramesSettings:
    root: Path
    root_source: str       # "task", "config" or "emhub" (where the root came from)
    period: float
    heartbeat: float
    hot_window: float
    movie_rule: MovieRule
    scan_threads: int
    scan_processes: int
    usage_step: float      # fraction of the disk usage must move by to count as a change
    expect_mount: bool     # the root must be a mount point (else: "not mounted" error)
    #: A root from a task must stay inside one of these real paths (checked at setup and
    #: again before every scan, as a folder on the share can be swapped for a link later).
    confine_to: tuple[str, ...] = ()


def load_settings(args: Mapping[str, Any], config: Mapping[str, Any],
                  emhub: EMhubServices) -> FramesSettings:
    """Resolve and check everything; raises :class:`TaskError` on a setting that can never
    work (:class:`ConfigError` on a bad table value, when not refused at start-up)."""
    options = parse_settings(FramesOptions, config, args, plugin=PLUGIN)
    admin = parse_settings(FramesOptions, config, plugin=PLUGIN)  # the roots an admin chose
    root, source = _resolve_root(args, admin, emhub)
    confine_to: tuple[str, ...] = ()
    if source == "task":  # last: every other arg is checked even when this refuses
        confine_to = _bases_for_task_roots(root, admin, emhub)
        outside = outside_of(root, confine_to)
        if outside:
            raise TaskError(outside)
    return FramesSettings(root=root, root_source=source,
                          period=max(options.period, options.min_period),
                          heartbeat=options.heartbeat, hot_window=options.hot_window,
                          movie_rule=MovieRule(options.movie_suffixes),
                          scan_threads=options.scan_threads,
                          scan_processes=options.scan_processes, usage_step=options.usage_step,
                          expect_mount=options.expect_mount, confine_to=confine_to)


def _resolve_root(args: Mapping[str, Any], admin: FramesOptions,
                  emhub: EMhubServices) -> tuple[Path, str]:
    """Task arg ``root`` > config ``root`` > EMhub ``config:sessions`` ``raw.root_frames``."""
    for value, source in ((args.get("root"), "task"), (admin.root, "config")):
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


def _bases_for_task_roots(root: Path, admin: FramesOptions,
                          emhub: EMhubServices) -> tuple[str, ...]:
    """Where a task may point the monitor: ``allowed_roots`` if the admin set it; otherwise
    only the roots an admin already chose (config ``root``, EMhub's ``raw.root_frames``),
    so a task cannot make the worker list ``/etc`` and send the names to EMhub."""
    if admin.allowed_roots is not None:
        return tuple(os.path.realpath(b) for b in admin.allowed_roots)
    bases: list[str] = []
    if admin.root:
        bases.append(os.path.realpath(_absolute(admin.root, "config")))
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
