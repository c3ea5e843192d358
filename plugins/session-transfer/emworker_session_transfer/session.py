"""What a task needs from EMhub and config: the session's folders and roots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from emhub_worker_core import EMhubServices

from .paths import PathRefused, SessionPaths, session_paths
from .settings import TransferSettings


@dataclass(frozen=True)
class SessionTarget:
    session_id: int | None
    paths: SessionPaths
    frames_root: Path
    raw_root: Path
    raw_extra: dict[str, Any]   # the session's current extra.raw (kept keys are merged)


def _roots(settings: TransferSettings, sconfig: Mapping[str, Any]) -> tuple[Path, Path]:
    raw_cfg = sconfig.get("raw") or {}
    frames_root = settings.frames_root or raw_cfg.get("root_frames") or ""
    raw_root = settings.raw_root or raw_cfg.get("root") or ""
    if not frames_root or not raw_root:
        raise PathRefused("no frames/raw roots: set frames_root and raw_root in "
                          "[plugins.session-transfer] or raw.root_frames/raw.root in EMhub's "
                          "sessions config")
    return Path(frames_root), Path(raw_root)


def parse_session_id(value: Any) -> int | None:
    """An EMhub session id from task args: an int (not a bool) or a string of digits, > 0.

    ``int()`` would turn ``201.7`` into 201 and ``true`` into 1: another session.
    """
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) > 0:
        return int(value)
    raise PathRefused(f"session_id must be a positive whole number, not {value!r}")


def parse_seconds(args: Mapping[str, Any], key: str, default: float) -> float:
    """A non-negative number of seconds from task args (a bool or text is refused)."""
    value = args.get(key, default)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
            or value == float("inf"):
        raise PathRefused(f"{key} must be a number of seconds >= 0, not {value!r}")
    return float(value)


def resolve_target(args: Mapping[str, Any], settings: TransferSettings,
                   emhub: EMhubServices) -> SessionTarget:
    """Session, users, sessions config and resource -> confined source and destination."""
    session_id = parse_session_id(args.get("session_id"))
    explicit = bool(args.get("frames")) and bool(args.get("raw"))
    if session_id is None and not explicit:
        raise PathRefused("session_id is required (or both frames and raw)")
    need_config = not (settings.frames_root and settings.raw_root)
    sconfig = emhub.request_config("sessions") if need_config else {}
    frames_root, raw_root = _roots(settings, sconfig)
    session: dict[str, Any] | None = None
    users: dict[str, Any] | None = None
    microscope = ""
    if session_id is not None:
        session = emhub.get_session(session_id)
    if session is not None and not explicit:
        users = emhub.get_session_users(session_id)  # type: ignore[arg-type]
        if not users:
            raise PathRefused(f"no users information for session {session_id}")
        microscope = _microscope(session, emhub)
    paths = session_paths(args=args, session=session, users=users, microscope=microscope,
                          layout=settings.layout, frames_root=frames_root, raw_root=raw_root)
    raw_extra = dict(((session or {}).get("extra") or {}).get("raw") or {})
    return SessionTarget(session_id, paths, frames_root, raw_root, raw_extra)


def _microscope(session: Mapping[str, Any], emhub: EMhubServices) -> str:
    resource = session.get("resource")
    if isinstance(resource, Mapping) and resource.get("name"):
        return str(resource["name"])
    resource_id = session.get("resource_id")
    for item in emhub.get_resources():
        if item.get("id") == resource_id:
            return str(item.get("name"))
    raise PathRefused(f"session {session.get('id')}: resource {resource_id!r} not found")
