"""The one small interface every executor implements: submit, state, cancel, find.

A job is known by its executor's id only (``"4711"`` for Slurm and LSF; ``"pid:start"``
for a local job), so a restarted worker re-attaches with nothing but the stored record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Protocol, Sequence

from emhub_worker_core import CommandError, CommandTimeout, Runner

# Our statuses, as extra.otf shows them.
QUEUED, RUNNING, FINISHED, FAILED, STOPPED = "queued", "running", "finished", "failed", \
    "stopped"
TERMINAL = (FINISHED, FAILED, STOPPED)
#: Every job we submit is called ``emworker-otf-<session>-<run>-<attempt>``: a job by any
#: other name, or of any other user, is never adopted or cancelled.
JOB_PREFIX = "emworker-otf-"
_SCHEDULER_ID = re.compile(r"[1-9][0-9]{0,11}", re.ASCII)  # "0" means "all" to bkill


def session_prefix(session_id: int) -> str:
    return f"{JOB_PREFIX}{int(session_id)}-"


def scheduler_job_id(job_id: str, executor: str) -> str:
    """A Slurm or LSF job id: digits, not 0; anything else (``--user=alice``) refused."""
    if not isinstance(job_id, str) or not _SCHEDULER_ID.fullmatch(job_id):
        raise ExecutorError(f"{executor}: {job_id!r} is not a job id")
    return job_id


class ExecutorError(RuntimeError):
    """The scheduler refused or could not be asked (command failed, output not understood)."""


class OutcomeUnknown(ExecutorError):
    """A command timed out or printed nothing we understand: it may have taken effect
    (a submitted job is looked up by its name, a cancel is confirmed or retried)."""


@dataclass(frozen=True)
class JobOwner:
    """What the scheduler says a job is: its id, name, user, and our status for it."""

    job_id: str
    name: str
    user: str
    status: str = ""


@dataclass(frozen=True)
class JobSpec:
    """What to run, where, and under which name; argv is already rendered and checked."""

    name: str
    argv: tuple[str, ...]
    workdir: Path
    log_path: Path                       # where stdout+stderr go
    options: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)  # the job's whole environment


@dataclass(frozen=True)
class JobState:
    status: str                  # queued | running | finished | failed | stopped | unknown
    exit_code: Optional[int] = None
    detail: str = ""             # the scheduler's own word (PENDING, EXIT, ...)
    log_path: str = ""           # the scheduler's log file when it names one


UNKNOWN = "unknown"  # the scheduler does not (yet, or any more) know the job


class Executor(Protocol):
    name: str

    def valid_id(self, job_id: str) -> str:
        """``job_id`` if it has this executor's form; :class:`ExecutorError` otherwise."""
        ...

    def owner(self, job_id: str) -> Optional[JobOwner]:
        """Name and user of the job, if the scheduler (still) knows it."""
        ...

    def live_jobs(self, prefix: str) -> list[JobOwner]:
        """Queued or running jobs whose name starts with ``prefix``."""
        ...

    def submit(self, spec: JobSpec) -> str:
        """Start the job; return its id. Raises :class:`ExecutorError`."""
        ...

    def state(self, job_id: str) -> JobState:
        """The job's state now; ``status == UNKNOWN`` when the scheduler has no record."""
        ...

    def cancel(self, job_id: str) -> None:
        """Ask the scheduler to end the job (a finished job is not an error)."""
        ...

    def find(self, name: str) -> Optional[str]:
        """The id of a live job with this name, if the scheduler can tell (restart safety)."""
        ...

    def log_path(self, spec_log: Path, job_id: str) -> Path:
        """The job's log file once its id is known."""
        ...


class SchedulerCommands:
    """What the Slurm and LSF executors share: their commands, through the core's runner."""

    def __init__(self, runner: Runner, timeout: float = 30.0) -> None:
        self.runner, self.timeout = runner, timeout

    name = "scheduler"

    def _run(self, *argv: str, check: bool = True,
             env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        try:
            result = self.runner.run(list(argv), timeout=self.timeout, check=check, env=env)
        except CommandTimeout as exc:
            raise OutcomeUnknown(str(exc)) from exc
        except CommandError as exc:
            raise ExecutorError(str(exc)) from exc
        return result.returncode, result.stdout, result.stderr

    def valid_id(self, job_id: str) -> str:
        return scheduler_job_id(job_id, self.name)


def scheduler_env(job_env: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The environment ``sbatch``/``bsub`` run in: the job's, plus the scheduler's own
    client settings (``SLURM_CONF``, ``LSF_ENVDIR``...), so nothing else can leak."""
    own = {k: v for k, v in environ.items() if k.startswith(("SLURM_", "LSF_", "LSB_"))}
    return {**own, **job_env}


def option_args(options: Mapping[str, str], flags: Mapping[str, str]) -> list[str]:
    """``--flag=value`` items for the options this scheduler knows, in a fixed order."""
    out = []
    for key, flag in flags.items():
        if key in options:
            out.append(f"{flag}{options[key]}")
    return out


def unknown_options(options: Mapping[str, str], known: Sequence[str]) -> list[str]:
    return sorted(set(options) - set(known))
