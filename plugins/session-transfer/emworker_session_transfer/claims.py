"""Which session each frames folder belongs to, as far as this worker has transferred it.

EPU, not the worker, creates frames folders, so nothing inside one can tie it to a session
(the microscope PC could write any marker). What this worker knows is whom it moved a folder
for: the first transfer task for a frames folder records its session in the plugin's state
folder, and a task for any other session that names the same folder (``extra.raw.frames``
or the ``frames`` argument, both written by EMhub users) is refused. The record is created
atomically (a hard link that fails if the name exists), so two tasks racing for one folder
cannot both win. A folder nobody has claimed yet goes to the first session that names it:
``docs/security.rst`` says so under what remains open.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, Mapping

from emhub_worker_core.guard import PathRefused, atomic_write, open_dir, read_bounded

CLAIMS_DIR = "frames-claims"
MAX_CLAIM_BYTES = 64 << 10


def owner_of(session_id: int | None, raw: Path) -> dict[str, Any]:
    """Who a transfer is for: its session, or (run without EMhub) its destination."""
    return {"session_id": session_id} if session_id is not None else {"raw": str(raw)}


class FramesClaims:
    """``<state>/frames-claims/<folder name>.<hash of its path>.json``, one per folder."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def claim(self, frames: Path, owner: Mapping[str, Any], raw: Path) -> None:
        """Record ``frames`` as ``owner``'s, or raise :class:`PathRefused` if it is
        another's (``OSError`` if the state folder cannot be written: nothing is moved)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        folder = open_dir([CLAIMS_DIR], root=self.state_dir, create=True, mode=0o700)
        try:
            name = _claim_name(frames)
            record = {**owner, "frames": str(frames), "raw": str(raw)}
            if not _create(folder, name, json.dumps(record).encode()):
                held = json.loads(read_bounded(folder, name, MAX_CLAIM_BYTES))
                if not isinstance(held, dict) or \
                        {k: held.get(k) for k in owner} != dict(owner):
                    raise PathRefused(f"frames folder {frames} was transferred by this "
                                      f"worker for {_who(held)}: not moved for "
                                      f"{_who(owner)}")
        finally:
            os.close(folder)


def _claim_name(frames: Path) -> str:
    digest = hashlib.sha256(str(frames).encode("utf-8", "surrogateescape")).hexdigest()
    return f"{frames.name}.{digest[:16]}.json"


def _create(folder: int, name: str, data: bytes) -> bool:
    """Create ``name`` with ``data`` unless it exists (False then); all or nothing."""
    temp = f".{name}.{secrets.token_hex(6)}.new"   # each task its own: no lost race
    atomic_write(folder, temp, data, mode=0o600)
    try:
        os.link(temp, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
        return True
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
        return False
    finally:
        os.unlink(temp, dir_fd=folder)


def _who(owner: Mapping[str, Any]) -> str:
    if owner.get("session_id") is not None:
        return f"session {owner['session_id']}"
    return f"the raw folder {owner.get('raw')}"
