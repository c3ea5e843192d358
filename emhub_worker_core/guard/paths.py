"""Confinement of paths and names that come from outside the worker's own configuration.

A value from EMhub (a session name, ``extra.raw.frames``, a task argument) or from a tree
someone else writes (the frames share, a job's folder) is refused here before it becomes a
path: no control characters, no ``..``, nothing outside the configured root or the session's
folder. Resolution follows links only to *check* a path; reading and writing below a folder
someone else can write goes through :mod:`.fs`, which never follows one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

StrPath = Union[str, "os.PathLike[str]"]


class PathRefused(ValueError):
    """A value that would leave its root or its session's folder, or is not a safe name."""


def has_control(text: str) -> bool:
    """True if ``text`` holds a C0/C1 control character (``\\n``, ``\\r``, NUL, ESC, DEL...)."""
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def confine(path: StrPath, root: StrPath, *, what: str,
            within: Optional[StrPath] = None) -> Path:
    """``path`` (absolute, or relative to ``root``) resolved, and refused unless inside.

    Refused: an empty value, one with a control character (NUL, newline, ...), a ``..``
    component (even one that would resolve inside: data from EMhub has no reason for it), a
    result outside ``root`` or equal to it, and, when ``within`` (a session's folder) is
    given, a result outside ``within`` (``within`` itself is allowed).
    """
    text = os.fspath(path)
    if not text or has_control(text):
        raise PathRefused(f"{what}: empty or invalid path {text!r}")
    if ".." in text.split("/"):
        raise PathRefused(f"{what} {text!r} contains '..'")
    root_real = os.path.realpath(root)
    full = os.path.realpath(os.path.join(root_real, text))
    if not _inside(full, root_real) or full == root_real:
        raise PathRefused(f"{what} {text!r} is outside the configured root {os.fspath(root)}")
    if within is not None:
        session_real = os.path.realpath(within)
        if not _inside(full, session_real):
            raise PathRefused(f"{what} {text!r} is outside the session's folder "
                              f"{os.fspath(within)}")
    return Path(full)


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([folder, path]) == folder


def safe_name(value: str, what: str) -> str:
    """``value`` as one folder or file name: no ``/`` or ``\\``, no control character,
    not empty, not ``.`` or ``..``, not hidden (a leading dot is ours and EPU's temporaries)."""
    if not isinstance(value, str) or not value or "/" in value or "\\" in value \
            or has_control(value) or value.startswith("."):
        raise PathRefused(f"unsafe {what} for a folder or file name: {value!r}")
    return value


def overlapping(a: StrPath, b: StrPath) -> bool:
    """True if the resolved folders ``a`` and ``b`` are the same or one holds the other."""
    ra, rb = os.path.realpath(a), os.path.realpath(b)
    return _inside(ra, rb) or _inside(rb, ra)
