"""The worker's trust line: rules for values and files that others can write.

EMhub users and admins write session names, paths and settings; the microscope PC writes the
frames share; a job user writes its workflow's folder. Any plugin (the bundled ones and
third-party ones that depend only on ``emhub-worker-core``) draws the line with these:

* :func:`confine` / :func:`safe_name`: a path inside its root and its session's folder; one
  safe name component (:class:`PathRefused` otherwise).
* :func:`open_dir`, :func:`open_subdir`, :func:`open_regular`, :func:`walk_files`,
  :func:`unlink_same`, :func:`same_file`: folders and files reached by directory
  descriptors, no link followed.
* :func:`atomic_write`, :func:`read_tail`, :func:`read_bounded`: whole-file writes and
  bounded reads that follow no link.
* :class:`MovieRule`: the one movie predicate; :class:`SettleTracker`: settled files.

See ``docs/security.rst`` for who writes what and where each input is confined.
"""

from .files import TooLarge, atomic_write, read_bounded, read_tail
from .fs import (
    DIR_FLAGS,
    MAX_DEPTH,
    VANISHED,
    NotRegular,
    Skipped,
    open_dir,
    open_regular,
    open_regular_stat,
    open_subdir,
    relative_parts,
    same_file,
    unlink_same,
    walk_dirs_bottom_up,
    walk_entries,
    walk_files,
)
from .movies import DEFAULT_MOVIE_SUFFIXES, MovieRule, movie_suffixes, suffix_list
from .paths import PathRefused, confine, has_control, overlapping, safe_name
from .settle import SettleTracker

__all__ = [
    "DEFAULT_MOVIE_SUFFIXES", "DIR_FLAGS", "MAX_DEPTH", "VANISHED", "MovieRule", "NotRegular",
    "PathRefused", "SettleTracker", "Skipped", "TooLarge", "atomic_write", "confine",
    "has_control", "movie_suffixes", "open_dir", "open_regular", "open_regular_stat",
    "open_subdir", "overlapping",
    "read_bounded", "read_tail", "relative_parts", "safe_name", "same_file", "suffix_list",
    "unlink_same", "walk_dirs_bottom_up", "walk_entries", "walk_files"
]
