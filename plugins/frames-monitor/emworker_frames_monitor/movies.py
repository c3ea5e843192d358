"""Which file names are movies: one configurable rule, shared by scanner and reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

#: EPU's ``*_fractions.tiff`` and ``*_EER.eer`` end in these too, so they are covered;
#: ``.mrc``/``.mrcs`` are Falcon stacks (``*_Fractions.mrc``), ``.tif`` other cameras.
DEFAULT_MOVIE_SUFFIXES: tuple[str, ...] = (".tif", ".tiff", ".eer", ".mrc", ".mrcs")
#: Gain references share the movies' suffixes (``*gain*.mrc``, ``*_gain.tiff``) but are not movies.
DEFAULT_MOVIE_EXCLUDES: tuple[str, ...] = ("gain",)


@dataclass(frozen=True)
class MovieRule:
    """A name is a movie if it ends with one of ``suffixes``, is not hidden (temp files of
    EPU/rsync start with a dot) and contains none of ``excludes``. Case-insensitive."""

    suffixes: tuple[str, ...] = DEFAULT_MOVIE_SUFFIXES
    excludes: tuple[str, ...] = DEFAULT_MOVIE_EXCLUDES
    _tail: int = field(default=0, init=False, repr=False, compare=False)
    _ends: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "suffixes", tuple(s.lower() for s in self.suffixes))
        object.__setattr__(self, "excludes", tuple(s.lower() for s in self.excludes))
        object.__setattr__(self, "_tail", max((len(s) for s in self.suffixes), default=0))
        # For count(): a suffix that ends another one (".tif" vs "x.tif") would count a
        # name twice; keep the shorter, which matches every name the longer one does.
        kept = [s for s in set(self.suffixes)
                if not any(o != s and s.endswith(o) for o in self.suffixes)]
        object.__setattr__(self, "_ends", tuple(s + "\0" for s in kept))

    def __call__(self, name: str) -> bool:
        # Called once per file: lower-case only the tail first (most files are not movies).
        if not name[-self._tail:].lower().endswith(self.suffixes) or name.startswith("."):
            return False
        lowered = name.lower()
        return not any(word in lowered for word in self.excludes)

    def count(self, names: Sequence[str]) -> int:
        """How many of ``names`` are movies, with a few C-level passes instead of one call
        per name: a scan calls this once per directory (NUL cannot occur in a file name)."""
        if not names:
            return 0
        joined = "\0".join(names).lower() + "\0"
        if joined.startswith(".") or "\0." in joined or any(w in joined for w in self.excludes):
            return sum(1 for name in names if self(name))  # rare: a temp file, a gain file
        return sum(joined.count(end) for end in self._ends)

    @classmethod
    def from_config(cls, config: Any) -> "MovieRule":
        """Build from ``movie_suffixes`` / ``movie_excludes`` config lists (defaults if unset)."""
        suffixes = _str_list(config.get("movie_suffixes"), "movie_suffixes",
                             DEFAULT_MOVIE_SUFFIXES)
        excludes = _str_list(config.get("movie_excludes"), "movie_excludes",
                             DEFAULT_MOVIE_EXCLUDES)
        return cls(suffixes, excludes)


def _str_list(value: Any, key: str, default: Sequence[str]) -> tuple[str, ...]:
    if value is None:
        return tuple(default)
    if isinstance(value, str) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{key} must be a list of non-empty strings, got {value!r}")
    return tuple(value)
