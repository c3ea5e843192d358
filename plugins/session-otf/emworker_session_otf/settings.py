"""The plugin's settings (``[plugins.session-otf]``), declared once: the core reads and
checks them by this declaration (``emworker check`` shows it)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping

from emhub_worker_core import setting
from emhub_worker_core.guard import DEFAULT_MOVIE_SUFFIXES, MovieRule, movie_suffixes

#: The variables a job gets from the worker's environment (nothing else: the worker's may
#: hold EMhub's password). Slurm adds its SLURM_*, LSF its LSB_*.
DEFAULT_JOB_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}", re.ASCII)


def _job_env(value: Any) -> tuple[str, ...]:
    """The allow-list checked: a list of variable names (a string would be split in letters)."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TypeError(f"expected a list of variable names, got {value!r}")
    bad = [name for name in value if not (isinstance(name, str) and _ENV_NAME.fullmatch(name))]
    if bad:
        raise ValueError(f"not variable names: {bad}")
    return tuple(value)


@dataclass(frozen=True)
class OtfSettings:
    otf_root: str = setting("", "where OTF folders are made; else EMhub's sessions config "
                                "otf.root")
    raw_root: str = setting("", "where the raw sessions are; else EMhub's sessions config "
                                "raw.root")
    state_dir: str = setting("", "job records (one job per session across restarts); else "
                                 "<worker state folder>/plugins/session-otf")
    workflows: Mapping[str, Any] = setting({}, "workflow definitions (argv, executor, "
                                               "options); override EMhub's otf.workflows")
    default_workflow: str = setting("", "the workflow of a session that names none "
                                        "(extra.otf.workflow)")
    min_movies: int = setting(16, "settled movies before the job is submitted (as the stock)",
                              minimum=1)
    quiet_seconds: float = setting(60.0, "a movie is settled after this long unchanged",
                                   minimum=0)
    end_after_idle: float = setting(1800.0, "no new movie for this long: end marker in the "
                                            "feed", above=0)
    period: float = setting(30.0, "seconds between two steps", minimum=0)
    movie_suffixes: tuple[str, ...] = setting(DEFAULT_MOVIE_SUFFIXES, "file name endings "
                                              "that count as movies", convert=movie_suffixes)
    gain: str = setting("", "glob of the gain reference, {microscope} filled in; else "
                            "EMhub's data.gain")
    retries: int = setting(0, "resubmissions after a failed job", minimum=0)
    log_tail_lines: int = setting(20, "lines of the job log reported on failure", minimum=0)
    job_gone_grace: float = setting(120.0, "seconds a job may be unknown to the scheduler "
                                           "before 'failed'")
    command_timeout: float = setting(30.0, "seconds each scheduler command may take")
    progress_maxlen: int = setting(20, "history kept for this task's events")
    #: the worker's may hold EMhub's password: a job gets only these
    job_env: tuple[str, ...] = setting(DEFAULT_JOB_ENV, "variables a job gets from the "
                                       "worker's environment (an allow-list)", convert=_job_env)
    #: argv, executor and user of a workflow from EMhub's config:sessions (whoever edits it
    #: would otherwise run any program as any user here): off unless the admin opts in
    emhub_defines_programs: bool = setting(False, "let EMhub's config:sessions set a "
                                                  "workflow's argv, executor and user "
                                                  "(default: local configuration only)")

    def job_environment(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The whole environment of a job: the allowed variables the worker has."""
        source = os.environ if environ is None else environ
        return {name: source[name] for name in self.job_env if name in source}

    @cached_property
    def is_movie(self) -> MovieRule:
        """The core's one movie rule (as session-transfer moves, frames-monitor counts)."""
        return MovieRule(self.movie_suffixes)
