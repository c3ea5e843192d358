"""The one rule for "is this file a movie", shared by every plugin that counts or moves them.

A name is a movie when it ends with one of the configured ``movie_suffixes``, compared
case as written (domain spec §3.6, §7.1): EPU's ``*_fractions.tiff`` and ``*_EER.eer``,
Falcon's ``*_Fractions.mrc``, ``.mrcs`` stacks. Never a movie, whatever its ending: a gain
reference (``gain`` anywhere in the file name, any case), a hidden file (EPU's and rsync's
temporaries start with a dot, as do ours) and a name with a control character. Counting
(EMhub's frames page, ``extra.raw``) and moving use this same rule and this one setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from .paths import has_control

#: session-transfer's default, and every plugin's: ``fractions.tiff`` covers EPU's
#: ``_fractions.tiff``, ``.eer`` EPU's ``_EER.eer``.
DEFAULT_MOVIE_SUFFIXES: tuple[str, ...] = (
    "fractions.tiff", "Fractions.tiff", ".eer", "_Fractions.mrc", ".mrcs")
GAIN_WORD = "gain"
_ASCII_CONTROL = bytes(range(0x20)) + b"\x7f"


@dataclass(frozen=True)
class MovieRule:
    """Which file names are movies; build it with :meth:`from_config` from one setting."""

    suffixes: tuple[str, ...] = DEFAULT_MOVIE_SUFFIXES
    _ends: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        suffixes = tuple(self.suffixes)
        for suffix in suffixes:
            if not isinstance(suffix, str) or not suffix or "/" in suffix \
                    or has_control(suffix):
                raise ValueError(f"movie_suffixes: not a file name ending: {suffix!r}")
        object.__setattr__(self, "suffixes", suffixes)
        # For count(): a suffix that ends another one ("fractions.tiff" and
        # "_fractions.tiff") would count a name twice; the shorter matches both.
        kept = sorted({s for s in suffixes
                       if not any(o != s and s.endswith(o) for o in suffixes)})
        object.__setattr__(self, "_ends", tuple(s + "/" for s in kept))

    def __call__(self, path: str) -> bool:
        """Is the file at ``path`` (a name, or a relative path: only the name counts) a movie?"""
        if not path.endswith(self.suffixes):   # most files: one C-level test
            return False
        name = path.rpartition("/")[2]
        return not (name.startswith(".") or GAIN_WORD in name.lower() or has_control(name))

    def count(self, names: Sequence[str]) -> int:
        """How many of ``names`` (file names of one folder) are movies: the same answer as
        calling the rule on each, in a few C-level passes ("/" is never in a name)."""
        if not names:
            return 0
        joined = "/".join(names) + "/"
        # Any name not plain ASCII (isascii is O(1)), hidden, a gain file or with a control
        # character: ask the rule name by name. Each test is one C-level pass.
        if not joined.isascii() or joined[0] == "." or "/." in joined \
                or GAIN_WORD in joined.lower() \
                or len(joined.encode().translate(None, _ASCII_CONTROL)) != len(joined):
            return sum(1 for name in names if self(name))   # rare: a temp or gain file
        return sum(joined.count(end) for end in self._ends)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], key: str = "movie_suffixes",
                    ) -> MovieRule:
        """From a plugin's config section: its ``movie_suffixes`` list (default if unset)."""
        return cls(suffix_list(config.get(key), key))


def movie_suffixes(value: Any) -> tuple[str, ...]:
    """A ``movie_suffixes`` setting's value checked by the one rule (for ``setting(...,
    convert=movie_suffixes)``): ``ValueError`` in words if it cannot be a list of endings."""
    return MovieRule(suffix_list(value)).suffixes


def suffix_list(value: Optional[Any], key: str = "movie_suffixes") -> tuple[str, ...]:
    """A configured list of suffixes checked; the default when ``value`` is None."""
    if value is None:
        return DEFAULT_MOVIE_SUFFIXES
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) \
            or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{key} must be a list of non-empty strings, got {value!r}")
    return tuple(value)
