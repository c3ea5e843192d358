"""Build a synthetic EPU-like frames tree quickly: sparse files, realistic sizes, old mtimes.

Layout per session (as EPU writes it)::

    S0001_grid1/EpuSession.dm
    S0001_grid1/Krios01_gain_20240301.mrc
    S0001_grid1/Images-Disc1/GridSquare_<n>/GridSquare_<n>.jpg|.xml
    S0001_grid1/Images-Disc1/GridSquare_<n>/FoilHoles/FoilHole_<h>_<t>.jpg|.xml
    S0001_grid1/Images-Disc1/GridSquare_<n>/Data/FoilHole_<h>_Data_<t>.jpg|.xml
    S0001_grid1/Images-Disc1/GridSquare_<n>/Data/FoilHole_<h>_Data_<t>_fractions.tiff

Files are made with open + ftruncate (sparse: no data blocks) and dated ``age`` seconds
ago, directories too, so the tree looks like a finished session.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

MB = 1024 * 1024
SIZES = {".jpg": 100 * 1024, ".xml": 11 * 1024, "_fractions.tiff": 300 * MB,
         ".dm": 50 * 1024, ".mrc": 90 * MB}


@dataclass
class TreeInfo:
    root: str
    files: int
    movies: int
    dirs: int
    data_dirs: list[str]


def _make_file(path: str, size: int, mtime: float) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        os.ftruncate(fd, size)
        os.utime(fd, (mtime, mtime))
    finally:
        os.close(fd)


def build_tree(root: str, *, sessions: int = 3, squares_per_session: int = 100,
               holes_per_square: int = 70, age: float = 3 * 86400) -> TreeInfo:
    """Make the tree under ``root`` (must exist); return what was made."""
    mtime = time.time() - age
    files = movies = 0
    dirs: list[str] = []
    data_dirs: list[str] = []
    for s in range(1, sessions + 1):
        session = os.path.join(root, f"S{s:04d}_grid{s}")
        disc = os.path.join(session, "Images-Disc1")
        os.makedirs(disc)
        dirs += [session, disc]
        _make_file(os.path.join(session, "EpuSession.dm"), SIZES[".dm"], mtime)
        _make_file(os.path.join(session, "Krios01_gain_20240301.mrc"), SIZES[".mrc"], mtime)
        files += 2
        for q in range(squares_per_session):
            square_id = 10_000_000 + s * 1000 + q
            square = os.path.join(disc, f"GridSquare_{square_id}")
            holes, data = os.path.join(square, "FoilHoles"), os.path.join(square, "Data")
            os.makedirs(holes)
            os.mkdir(data)
            dirs += [square, holes, data]
            data_dirs.append(data)
            for ext in (".jpg", ".xml"):
                _make_file(os.path.join(square, f"GridSquare_{square_id}{ext}"), SIZES[ext],
                           mtime)
            files += 2
            for h in range(holes_per_square):
                hole = f"FoilHole_{square_id * 100 + h}"
                stamp = f"20240301_{100000 + h:06d}"
                for ext in (".jpg", ".xml"):
                    _make_file(os.path.join(holes, f"{hole}_{stamp}{ext}"), SIZES[ext], mtime)
                    _make_file(os.path.join(data, f"{hole}_Data_1_2_{stamp}{ext}"), SIZES[ext],
                               mtime)
                _make_file(os.path.join(data, f"{hole}_Data_1_2_{stamp}_fractions.tiff"),
                           SIZES["_fractions.tiff"], mtime)
                files += 5
                movies += 1
    age_dirs(dirs, mtime)
    return TreeInfo(root, files, movies, len(dirs), data_dirs)


def age_dirs(dirs: list[str], mtime: float) -> None:
    """Date directories (deepest first, as making an entry updates its parent's mtime)."""
    for d in sorted(dirs, key=len, reverse=True):
        os.utime(d, (mtime, mtime))


def add_movies(data_dirs: list[str], count: int, tag: str) -> list[str]:
    """Write ``count`` new movies (dated now) spread over ``data_dirs``; return the paths."""
    now = time.time()
    made = []
    for i in range(count):
        path = os.path.join(data_dirs[i % len(data_dirs)],
                            f"FoilHole_{tag}{i:05d}_Data_1_2_new_fractions.tiff")
        _make_file(path, SIZES["_fractions.tiff"], now)
        made.append(path)
    return made
