"""``session.extra.raw``: what EMhub's pages read about the transferred files (no None)."""

from __future__ import annotations

import os
from typing import Any, Iterable, Protocol


class FileFacts(Protocol):
    path: str
    size: int
    movie: bool

    @property
    def mtime(self) -> float: ...


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"  # pragma: no cover


def raw_info(files: Iterable[FileFacts]) -> dict[str, Any]:
    """Per-extension counts and sizes, totals, first/last file and movie, human size."""
    items = sorted(files, key=lambda f: (f.mtime, f.path))
    info: dict[str, Any] = {"files": {}, "files_total": 0, "size": 0, "sizeH": human_size(0),
                            "movies": 0}
    if not items:
        return info
    per_ext: dict[str, dict[str, int]] = {}
    for item in items:
        ext = os.path.splitext(os.path.basename(item.path))[1]
        stat = per_ext.setdefault(ext, {"count": 0, "size": 0})
        stat["count"] += 1
        stat["size"] += item.size
    movies = [f for f in items if f.movie]
    total = sum(f.size for f in items)
    info.update(files=per_ext, files_total=len(items), size=total, sizeH=human_size(total),
                movies=len(movies), first_file=items[0].path, last_file=items[-1].path,
                first_file_creation=items[0].mtime, last_file_creation=items[-1].mtime,
                duration="%.2f hours" % ((items[-1].mtime - items[0].mtime) / 3600))
    if movies:
        info.update(first_movie=movies[0].path, last_movie=movies[-1].path,
                    first_movie_creation=movies[0].mtime, last_movie_creation=movies[-1].mtime)
    return info
