"""The one small interface every executor implements: submit, state, cancel, find.

A job is known by its executor's id only (``"4711"`` for Slurm and LSF; ``"pid:start"``
for a local job), so a restarted worker re-attaches with nothing but the stored record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Protocol, Sequence

from emhub_worker_core import CommandError, Runner

# Our statuses, as extra.otf shows them.
QUEUED, RUNNING, FINISHED, FAILED, STOPPED = "queued", "running", "finished", "failed", \
    "stopped"
TERMINAL = (FINISHED, FAILED, STOPPED)


class ExecutorError(RuntimeError):
    """The scheduler refused or could not be asked (command failed, output not understood)."""


@dataclass(frozen=True)
class JobSpec:
    """What to run, where, and under which name; argv is already rendered and checked."""

    name: str
    argv: tuple[str, ...]
    workdir: Path
    log_path: Path                       # where stdout+stderr go
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobState:
    status: str                  # queued | running | finished | failed | stopped | unknown
    exit_code: Optional[int] = None
    detail: str = ""             # the scheduler's own word (PENDING, EXIT, ...)
    log_path: str = ""           # the scheduler's log file when it names one


UNKNOWN = "unknown"  # the scheduler does not (yet, or any more) know the job


class Executor(Protocol):
    name: str

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

    def _run(self, *argv: str, check: bool = True) -> tuple[int, str, str]:
        try:
            result = self.runner.run(list(argv), timeout=self.timeout, check=check)
        except CommandError as exc:
            raise ExecutorError(str(exc)) from exc
        return result.returncode, result.stdout, result.stderr


def option_args(options: Mapping[str, str], flags: Mapping[str, str]) -> list[str]:
    """``--flag=value`` items for the options this scheduler knows, in a fixed order."""
    out = []
    for key, flag in flags.items():
        if key in options:
            out.append(f"{flag}{options[key]}")
    return out


def unknown_options(options: Mapping[str, str], known: Sequence[str]) -> list[str]:
    return sorted(set(options) - set(known))
