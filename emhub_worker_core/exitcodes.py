"""Process exit codes, mapped from exceptions in one place.

systemd units use these: 3 and 4 are listed in ``RestartPreventExitStatus`` because
restarting cannot fix a bad configuration or a refused login.
"""

from __future__ import annotations

from .errors import AuthenticationError, ConfigError, PluginError

OK = 0              #: finished, or stopped cleanly on SIGTERM/SIGINT
ERROR = 1           #: unexpected error (a bug, or an environment problem)
USAGE = 2           #: bad command line (argparse)
CONFIG = 3          #: bad configuration: file and key named in the message
AUTH = 4            #: EMhub refused the login or does not know this worker name
PLUGINS = 5         #: a plugin failed to load and ``strict`` is set; `check` found failures
TASKS_FAILED = 6    #: local run: at least one task failed or had no handler
FORCED = 7          #: second signal, or handlers still running after the grace period

DESCRIPTIONS = {
    OK: "success", ERROR: "unexpected error", USAGE: "bad command line",
    CONFIG: "configuration error", AUTH: "authentication or registration refused",
    PLUGINS: "plugin failure", TASKS_FAILED: "a task failed (local run)",
    FORCED: "forced stop: tasks were still running",
}


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an exception that ends the process."""
    if isinstance(exc, ConfigError):
        return CONFIG
    if isinstance(exc, AuthenticationError):
        return AUTH
    if isinstance(exc, PluginError):
        return PLUGINS
    return ERROR
