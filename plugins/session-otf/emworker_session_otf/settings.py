"""The plugin's configuration (``[plugins.session-otf]``), checked once per task."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

from emhub_worker_core import ConfigError
from emhub_worker_core.guard import DEFAULT_MOVIE_SUFFIXES, MovieRule

SECTION = "[plugins.session-otf]"


@dataclass(frozen=True)
class OtfSettings:
    otf_root: str = ""              # else EMhub config sessions: otf.root
    raw_root: str = ""              # else EMhub config sessions: raw.root
    state_dir: str = ""             # job records; else <worker state folder>/plugins/session-otf
    workflows: Mapping[str, Any] = field(default_factory=dict)  # override EMhub's otf.workflows
    default_workflow: str = ""      # when the session names none (extra.otf.workflow)
    min_movies: int = 16            # settled movies before the job is submitted (as the stock)
    quiet_seconds: float = 60.0     # a movie is settled after this long unchanged
    end_after_idle: float = 1800.0  # no new movie for this long: end marker in the feed
    period: float = 30.0            # seconds between two steps
    movie_suffixes: tuple[str, ...] = DEFAULT_MOVIE_SUFFIXES
    gain: str = ""                  # glob of the gain reference, {microscope} filled in
    retries: int = 0                # resubmissions after a failed job
    log_tail_lines: int = 20        # lines of the job log reported on failure
    job_gone_grace: float = 120.0   # a job the scheduler no longer knows, before "failed"
    command_timeout: float = 30.0   # each scheduler command
    progress_maxlen: int = 20       # history kept for this task's events

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OtfSettings:
        known = set(cls.__dataclass_fields__)
        unknown = set(config) - known
        if unknown:
            raise ConfigError(f"{SECTION}: unknown key(s) {sorted(unknown)}")
        values: dict[str, Any] = {}
        for key, value in config.items():
            default: Any = getattr(cls, key, None)
            try:
                if key == "workflows":
                    if not isinstance(value, Mapping):
                        raise TypeError
                    values[key] = dict(value)
                elif key == "movie_suffixes":  # the one movie rule's setting, checked by it
                    values[key] = MovieRule(tuple(str(v) for v in value)).suffixes
                elif isinstance(default, tuple):
                    values[key] = tuple(str(v) for v in value)
                else:
                    values[key] = type(default)(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{SECTION} {key}: bad value {value!r}") from None
        settings = cls(**values)
        if settings.min_movies < 1 or settings.retries < 0 or settings.log_tail_lines < 0:
            raise ConfigError(f"{SECTION}: min_movies >= 1, retries >= 0, log_tail_lines >= 0")
        if settings.period < 0 or settings.quiet_seconds < 0 or settings.end_after_idle <= 0:
            raise ConfigError(f"{SECTION}: period/quiet_seconds >= 0, end_after_idle > 0")
        return settings

    @cached_property
    def is_movie(self) -> MovieRule:
        """The core's one movie rule (as session-transfer moves, frames-monitor counts)."""
        return MovieRule(self.movie_suffixes)
