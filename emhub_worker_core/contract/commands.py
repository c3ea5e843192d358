"""Run external commands from argument lists, with a timeout, through one injectable seam.

Plugins never call :mod:`subprocess` directly: they get a :class:`CommandRunner` from
their task context, so tests can hand them a fake (see :mod:`emhub_worker_core.testing`).
There is no ``shell=True`` anywhere: an argv list is executed as given.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

from .errors import CommandError, CommandNotFound, CommandTimeout

STDERR_LIMIT = 2000  # characters of stderr kept in errors and events


@dataclass(frozen=True)
class CommandResult:
    """What a finished command left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration: float = 0.0


class Runner(Protocol):
    """The seam: anything with this ``run`` can stand in for :class:`CommandRunner`."""

    def run(self, argv: Sequence[str], *, timeout: float = 60.0, check: bool = True,
            env: Mapping[str, str] | None = None) -> CommandResult:
        """Run ``argv``; with ``check``, raise :class:`CommandError` on a non-zero exit."""
        ...


def check_result(result: CommandResult) -> CommandResult:
    """Raise :class:`CommandError` for a non-zero exit, naming the command and its stderr."""
    if result.returncode != 0:
        stderr = result.stderr.strip()[-STDERR_LIMIT:]
        raise CommandError(result.argv, f"{' '.join(result.argv)} exited with "
                           f"{result.returncode}: {stderr or '(no stderr)'}",
                           returncode=result.returncode, stderr=stderr)
    return result


class CommandRunner:
    """Runs real commands with :func:`subprocess.run` (argv list, no shell)."""

    def run(self, argv: Sequence[str], *, timeout: float = 60.0, check: bool = True,
            env: Mapping[str, str] | None = None) -> CommandResult:
        args = [str(a) for a in argv]
        if not args:
            raise ValueError("empty command")
        started = time.monotonic()
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                                  env=dict(env) if env is not None else None,
                                  stdin=subprocess.DEVNULL, errors="replace")
        except FileNotFoundError as exc:
            raise CommandNotFound(args, f"command not found: {args[0]}",
                                  stderr=str(exc)) from exc
        except PermissionError as exc:
            raise CommandNotFound(args, f"command not executable: {args[0]}",
                                  stderr=str(exc)) from exc
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) \
                else (exc.stderr or "")
            raise CommandTimeout(args, f"{' '.join(args)} timed out after {timeout:g} s",
                                 stderr=stderr[-STDERR_LIMIT:]) from exc
        result = CommandResult(tuple(args), proc.returncode, proc.stdout, proc.stderr,
                               time.monotonic() - started)
        return check_result(result) if check else result
