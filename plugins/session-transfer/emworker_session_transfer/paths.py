"""Where a session's frames are and where they go, confined to the configured roots."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from emhub_worker_core.guard import PathRefused, confine, overlapping, safe_name

__all__ = ["PathRefused", "SessionPaths", "confine", "layout_path", "session_paths"]


@dataclass(frozen=True)
class SessionPaths:
    frames: Path   # source: the camera's frames folder of the session
    raw: Path      # destination: the session's raw folder in storage


def short_name(session_name: str) -> str:
    """``20240301Krios01:S00301_grid1`` -> ``S00301_grid1`` (whole name without a colon)."""
    return session_name.split(":", 1)[1] if ":" in session_name else session_name


def user_folder(email: str) -> str:
    """``jane.doe@x`` -> ``jdoe``; a local part without a dot is used whole."""
    local = email.split("@", 1)[0]
    first, _, rest = local.partition(".")
    if first and rest:
        return first[0] + rest.split(".")[0]
    return local


def session_date(start: str) -> datetime.datetime:
    """The session's start as local time (EMhub stores ISO UTC strings)."""
    when = datetime.datetime.fromisoformat(start.strip().replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.astimezone()


def layout_path(layout: str, fields: Mapping[str, str], root: Path) -> Path:
    """The destination folder: ``layout`` filled with safe ``fields``, inside ``root``."""
    safe = {key: safe_name(value, key) for key, value in fields.items()}
    try:
        relative = layout.format(**safe)
    except (KeyError, IndexError) as exc:
        raise PathRefused(f"layout {layout!r} names an unknown field: {exc}") from None
    if os.path.isabs(relative) or ".." in Path(relative).parts:
        raise PathRefused(f"layout {layout!r} must be a relative path without '..'")
    return confine(relative, root, what="destination")


def layout_fields(session: Mapping[str, Any], users: Mapping[str, Any],
                  microscope: str) -> dict[str, str]:
    """The values a layout may use, from the session record, its users and the resource."""
    start = session_date(str(session.get("start") or ""))
    owner = users.get("owner") or {}
    email = str(owner.get("email") or "")
    group = users.get("group") or owner.get("group") or ""
    if isinstance(group, Mapping):
        group = group.get("name", "")
    return {"group": str(group), "microscope": microscope, "year": f"{start.year:04d}",
            "date": start.strftime("%Y%m%d"), "user": user_folder(email),
            "short_name": short_name(str(session.get("name") or "")),
            "session_id": str(session.get("id", ""))}


def session_paths(*, args: Mapping[str, Any], session: Mapping[str, Any] | None,
                  users: Mapping[str, Any] | None, microscope: str, layout: str,
                  frames_root: Path, raw_root: Path) -> SessionPaths:
    """Source and destination of a session's transfer; explicit task args win."""
    if overlapping(frames_root, raw_root):  # a copy could land on its own source
        raise PathRefused(f"the frames root {frames_root} and the raw root {raw_root} "
                          "overlap: one must not hold the other")
    raw_extra = ((session or {}).get("extra") or {}).get("raw") or {}
    if args.get("frames"):
        frames = frames_folder(str(args["frames"]), frames_root)
    elif raw_extra.get("frames"):
        frames = frames_folder(str(raw_extra["frames"]), frames_root)
    else:
        name = safe_name(short_name(str((session or {}).get("name") or "")), "session name")
        frames = frames_folder(name, frames_root)
    if args.get("raw"):
        raw = confine(str(args["raw"]), raw_root, what="raw folder")
    else:
        if session is None or users is None:
            raise PathRefused("no session to build the raw folder from (give args.raw)")
        raw = layout_path(layout, layout_fields(session, users, microscope), raw_root)
    return SessionPaths(frames=frames, raw=raw)


def frames_folder(value: str, frames_root: Path) -> Path:
    """A session's frames folder: a direct entry of the frames root, as EPU makes them and
    EMhub's Create Session dialog offers them (``Images-Disc1`` of another session is not)."""
    frames = confine(value.rstrip("/"), frames_root, what="frames folder")
    if frames.parent != Path(os.path.realpath(frames_root)):
        raise PathRefused(f"frames folder {value!r} is not a folder directly in the frames "
                          f"root {frames_root}")
    return frames
