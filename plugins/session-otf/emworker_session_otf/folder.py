"""The OTF folder: created once, with what a workflow needs, and moved aside on ``clear``.

Layout: ``data`` (a link to the raw folder), the gain reference when one is configured,
``otf_params.json`` (the session's acquisition settings) and the live feed ``movies.txt``.
Nothing here ever deletes: ``clear`` renames the old folder next to itself.
"""

from __future__ import annotations

import datetime
import glob
import json
import os
import shutil
from pathlib import Path
from typing import Any

from .feed import MovieFeed
from .inputs import OtfTarget

PARAMS_NAME = "otf_params.json"


def find_gain(target: OtfTarget) -> Path | None:
    """Newest file matching the gain pattern in the raw folder, else where the pattern says."""
    if not target.gain_pattern:
        return None
    pattern = target.gain_pattern.replace("{microscope}", target.microscope)
    candidates = glob.glob(str(target.raw_path / os.path.basename(pattern)))
    if not candidates and os.path.isabs(pattern):
        candidates = glob.glob(pattern)
    files = [Path(c) for c in candidates if os.path.isfile(c)]
    return max(files, key=lambda p: p.stat().st_mtime) if files else None


def create_otf_folder(target: OtfTarget) -> dict[str, Any]:
    """Make the folder (idempotent for a half-made one); return the parameters written."""
    otf = target.otf_path
    otf.mkdir(parents=True, exist_ok=True)
    link = otf / "data"
    if not link.is_symlink():
        link.symlink_to(target.raw_path, target_is_directory=True)
    gain = find_gain(target)
    gain_copy = ""
    if gain is not None:
        dest = otf / gain.name
        if not dest.exists():
            shutil.copy2(gain, dest)
        gain_copy = str(dest)
    params = {"session_id": target.session_id, "session_name": target.session_name,
              "microscope": target.microscope, "raw_path": str(target.raw_path),
              "otf_path": str(otf), "workflow": target.workflow.name,
              "acquisition": dict(target.acquisition), "gain": gain_copy,
              "movies_list": str(otf / "movies.txt")}
    tmp = otf / f".{PARAMS_NAME}.tmp"
    tmp.write_text(json.dumps(params, indent=1, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, otf / PARAMS_NAME)
    feed = MovieFeed(otf)
    if not feed.path.exists():
        feed.load()
        feed.write()
    return params


def move_aside(otf: Path, now: datetime.datetime | None = None) -> Path | None:
    """Rename the OTF folder to ``<name>.cleared-<time>``; None when there is none."""
    if not otf.exists() and not otf.is_symlink():
        return None
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    dest = otf.with_name(f"{otf.name}.cleared-{stamp}")
    n = 1
    while dest.exists():
        dest = otf.with_name(f"{otf.name}.cleared-{stamp}-{n}")
        n += 1
    os.rename(otf, dest)
    return dest
