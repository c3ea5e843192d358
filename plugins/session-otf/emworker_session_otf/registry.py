"""The OTF folders this worker made, kept in its own state folder: one session, one folder.

A job user can write the OTF folder, so a marker inside it proves nothing; the proof is
here: ``<state dir>/otf-folders.json`` maps each session to the folder made for it (path,
device, inode) and its raw folder. A folder with no record is adopted only if it is exactly
the session's derived path (``<otf root>/<raw folder name>_OTF``, as folders made before
this record existed are); any other is never fed, cleared or moved. No two sessions share a
folder, nest in each other's, or use the same raw folder.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from emhub_worker_core.guard import PathRefused, atomic_write, read_bounded

from .inputs import OtfTarget

FOLDERS_NAME = "otf-folders.json"
_lock = threading.Lock()  # one writer at a time in this process (the file is shared)


@dataclass(frozen=True)
class FolderEntry:
    path: str
    raw: str
    device: int
    inode: int


def _nested(a: str, b: str) -> bool:
    """The same folder, or one inside the other."""
    return os.path.commonpath([a, b]) in (a, b)


class FolderRegistry:
    def __init__(self, directory: str | Path) -> None:
        self.file = Path(directory) / FOLDERS_NAME

    def _load(self) -> dict[int, FolderEntry]:
        try:
            data: Any = json.loads(read_bounded(self.file.parent, self.file.name, 16 << 20))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise PathRefused(f"record of OTF folders {self.file} unreadable: {exc}") from exc
        entries = {}
        for sid, item in (data.items() if isinstance(data, dict) else []):
            try:
                entries[int(sid)] = FolderEntry(str(item["path"]), str(item["raw"]),
                                                int(item["device"]), int(item["inode"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise PathRefused(f"record of OTF folders {self.file}: bad entry {sid!r}") \
                    from exc
        return entries

    def _save(self, entries: dict[int, FolderEntry]) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        data = {str(k): asdict(v) for k, v in sorted(entries.items())}
        atomic_write(self.file.parent, self.file.name, json.dumps(data, indent=1).encode(),
                     mode=0o600)

    def entry(self, session_id: int) -> Optional[FolderEntry]:
        with _lock:
            return self._load().get(session_id)

    def check(self, target: OtfTarget) -> None:
        """Refuse a folder that is not this session's to use (see the module's rules)."""
        path, raw = str(target.otf_path), str(target.raw_path)
        with _lock:
            entries = self._load()
        mine = entries.get(target.session_id)
        for sid, other in entries.items():
            if sid == target.session_id:
                continue
            if _nested(other.path, path):
                raise PathRefused(f"OTF folder {path} is (or holds, or is inside) session "
                                  f"{sid}'s OTF folder {other.path}")
            if _nested(other.raw, raw):
                raise PathRefused(f"raw folder {raw} is (or holds, or is inside) session "
                                  f"{sid}'s raw folder {other.raw}")
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if mine is not None:
            if mine.path != path:
                raise PathRefused(f"session {target.session_id}'s OTF folder is {mine.path}, "
                                  f"not {path} (one session, one folder)")
            if st is not None and (st.st_dev, st.st_ino) != (mine.device, mine.inode):
                raise PathRefused(f"OTF folder {path} is not the folder this worker made "
                                  "(replaced since)")
            return
        if st is not None and path != str(target.derived_path):
            raise PathRefused(f"OTF folder {path} exists but this worker did not make it for "
                              f"session {target.session_id}; only {target.derived_path} "
                              "would be adopted")

    def record(self, target: OtfTarget) -> None:
        """Note the folder just made (or adopted) for this session."""
        st = os.lstat(target.otf_path)
        with _lock:
            entries = self._load()
            entries[target.session_id] = FolderEntry(str(target.otf_path),
                                                     str(target.raw_path), st.st_dev,
                                                     st.st_ino)
            self._save(entries)

    def forget(self, session_id: int) -> None:
        """After ``clear`` moved the folder aside: the session may have a new one."""
        with _lock:
            entries = self._load()
            if entries.pop(session_id, None) is not None:
                self._save(entries)
