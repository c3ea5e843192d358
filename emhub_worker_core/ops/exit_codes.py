"""Process exit codes, and the one function that maps an exception to its code and line.

systemd units use these: 3 and 4 are listed in ``RestartPreventExitStatus`` because
restarting cannot fix a bad configuration or a refused login. ``emworker status`` has its
own verdicts (8 to 10) that no other failure of the command can produce, so a script that
reads 3 knows the configuration is bad, not that the worker is in an unknown state.
"""

from __future__ import annotations

from ..contract.errors import (
    AlreadyRunning,
    AuthenticationError,
    ConfigError,
    EmworkerError,
    PluginError,
    UsageError,
)

OK = 0              #: finished, or stopped cleanly on SIGTERM/SIGINT
ERROR = 1           #: unexpected error (a bug, or an environment problem)
USAGE = 2           #: bad command line (argparse, or an option value that cannot work)
CONFIG = 3          #: bad configuration: file and key named in the message
AUTH = 4            #: EMhub refused the login or does not know this worker name
PLUGINS = 5         #: a plugin failed to load and ``strict`` is set; `check` found failures
TASKS_FAILED = 6    #: local run: a task failed, had no handler, or sent only errors
FORCED = 7          #: second signal, or handlers still running after the grace period
STATUS_STALE = 8    #: `status`: running, but the last successful poll is old
STATUS_STOPPED = 9  #: `status`: the state file names a process that is gone
STATUS_UNKNOWN = 10  #: `status`: no state file, or one that is not emworker's
ALREADY_RUNNING = 11  #: `run`: another live process runs this worker name (state folder)

DESCRIPTIONS = {
    OK: "success", ERROR: "unexpected error", USAGE: "bad command line",
    CONFIG: "configuration error", AUTH: "authentication or registration refused",
    PLUGINS: "plugin failure", TASKS_FAILED: "a task failed (local run)",
    FORCED: "forced stop: tasks were still running",
    STATUS_STALE: "status: running, but the last poll is old",
    STATUS_STOPPED: "status: not running",
    STATUS_UNKNOWN: "status: no usable state file",
    ALREADY_RUNNING: "this worker is already running in another process",
}


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an exception that ends the process."""
    if isinstance(exc, UsageError):
        return USAGE
    if isinstance(exc, ConfigError):
        return CONFIG
    if isinstance(exc, AuthenticationError):
        return AUTH
    if isinstance(exc, PluginError):
        return PLUGINS
    if isinstance(exc, AlreadyRunning):
        return ALREADY_RUNNING
    if isinstance(exc, KeyboardInterrupt):
        return FORCED
    return ERROR


def error_line(exc: BaseException) -> str:
    """One line a person reads: our own errors say it all; others get their type."""
    if isinstance(exc, EmworkerError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename is not None else ""
        return f"{where}{exc.strerror}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_users_mistake(exc: BaseException) -> bool:
    """Errors a person can fix from the message alone (no traceback for them)."""
    return isinstance(exc, (EmworkerError, OSError))
