"""The plugin's configuration (``[plugins.session-otf]``), checked once per task."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

from emhub_worker_core import ConfigError
from emhub_worker_core.guard import DEFAULT_MOVIE_SUFFIXES, MovieRule

SECTION = "[plugins.session-otf]"
#: The variables a job gets from the worker's environment (nothing else: the worker's may
#: hold EMhub's password). Slurm adds its SLURM_*, LSF its LSB_*.
DEFAULT_JOB_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}", re.ASCII)


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
    job_env: tuple[str, ...] = DEFAULT_JOB_ENV  # variables a job gets from the worker's env
    #: argv, executor and user of a workflow from EMhub's config:sessions (whoever edits it
    #: would otherwise run any program as any user here): off unless the admin opts in
    emhub_defines_programs: bool = False

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
                elif isinstance(default, bool):
                    if not isinstance(value, bool):
                        raise TypeError
                    values[key] = value
                elif isinstance(default, tuple) and isinstance(value, str):
                    raise TypeError  # a list is wanted; a string would be split in letters
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
        bad = [name for name in settings.job_env if not _ENV_NAME.fullmatch(name)]
        if bad:
            raise ConfigError(f"{SECTION} job_env: not variable names: {bad}")
        return settings

    def job_environment(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The whole environment of a job: the allowed variables the worker has."""
        source = os.environ if environ is None else environ
        return {name: source[name] for name in self.job_env if name in source}

    @cached_property
    def is_movie(self) -> MovieRule:
        """The core's one movie rule (as session-transfer moves, frames-monitor counts)."""
        return MovieRule(self.movie_suffixes)
