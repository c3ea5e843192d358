"""Paths from EMhub, confined to the configured roots (``..`` and escapes refused)."""

from __future__ import annotations

import os
from pathlib import Path


class PathRefused(ValueError):
    """A path from the server or a definition that would leave its configured root."""


def confine(path: str | Path, root: str | Path, what: str) -> Path:
    """``path`` (absolute, or relative to ``root``) resolved; refused if outside ``root``.

    A ``..`` component is refused outright, even when it would resolve inside the root:
    EMhub's data has no reason to contain one."""
    text = str(path)
    if not text or "\0" in text:
        raise PathRefused(f"{what}: empty or invalid path {text!r}")
    if ".." in Path(text).parts:
        raise PathRefused(f"{what} {text!r} contains '..'")
    root_real = os.path.realpath(root)
    full = os.path.realpath(os.path.join(root_real, text))
    if os.path.commonpath([root_real, full]) != root_real or full == root_real:
        raise PathRefused(f"{what} {text!r} is outside the configured root {root}")
    return Path(full)


def safe_name(value: str, what: str) -> str:
    """One folder name derived from server data."""
    if not value or "/" in value or "\0" in value or value in (".", "..") \
            or value.startswith("."):
        raise PathRefused(f"unsafe {what} for a folder name: {value!r}")
    return value
