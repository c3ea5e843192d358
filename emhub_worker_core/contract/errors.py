"""The one exception tree of emworker.

::

    EmworkerError
    ├── UsageError                  a command-line value that cannot work (``--events`` path)
    ├── AlreadyRunning              another live process runs this worker name (exit 11)
    ├── ConfigError                 bad or unreadable configuration (file and key named)
    ├── PluginError                 a plugin failed to load or register
    ├── TaskError                   a task cannot be run (malformed, unrouted)
    ├── CommandError                an external command failed (argv, exit code, stderr)
    │   ├── CommandNotFound
    │   └── CommandTimeout
    ├── ServiceUnavailable          a handler asked for an EMhub service this source lacks
    └── EMhubError                  anything that went wrong talking to EMhub
        ├── TransportError          network / HTTP level; worth retrying
        │   ├── LoginExpired        HTTP 401: log in again
        │   ├── PollTimeout         the long poll got no answer in time
        │   └── ServerBusy          EMhub's Redis is down, restarting or loading
        ├── ServerError             EMhub answered ``{"error": ...}``
        │   ├── AuthenticationError wrong credentials, unregistered worker name (fatal)
        │   ├── EventRejected       ``update_task`` refused an event
        │   └── TokenRejected       the worker token is no longer valid: connect again
        └── ProtocolError           a reply that is not what the protocol says

``AlreadyRunning`` and the four EMhub client's own (``LoginExpired``, ``PollTimeout``,
``ServerBusy``, ``TokenRejected``) are internal: the host and the EMhub source handle them,
a handler never sees them, and they are not exported by ``emhub_worker_core``.

The CLI maps these to exit codes in :mod:`emhub_worker_core.ops.exit_codes`.
"""

from __future__ import annotations

from typing import Sequence


class EmworkerError(Exception):
    """Base of every error emworker raises on purpose."""


class UsageError(EmworkerError):
    """A command-line option with a value that cannot work; exits like argparse (2)."""


class AlreadyRunning(EmworkerError):
    """Another live process runs this worker name: its state folder is locked (exit 11;
    the CLI's own error, not part of the plugin API)."""


class ConfigError(EmworkerError):
    """Configuration that cannot be used; the message names the file and key."""


class PluginError(EmworkerError):
    """A plugin could not be imported, registered or validated."""


class TaskError(EmworkerError):
    """A task that cannot be run as given (malformed, or no handler for it)."""


class CommandError(EmworkerError):
    """An external command failed: it names the command and carries its stderr."""

    def __init__(self, argv: Sequence[str], message: str, returncode: int | None = None,
                 stderr: str = "") -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(message)

    @property
    def command(self) -> str:
        return " ".join(self.argv)


class CommandNotFound(CommandError):
    """The program is not installed or not on ``PATH``."""


class CommandTimeout(CommandError):
    """The program did not finish within its timeout and was killed."""


class ServiceUnavailable(EmworkerError):
    """The task source offers no such EMhub service (e.g. sessions on a local run)."""


class EMhubError(EmworkerError):
    """Talking to EMhub went wrong."""


class TransportError(EMhubError):
    """Network or HTTP-level failure (connection refused, timeout, 5xx, 401); retryable."""


class LoginExpired(TransportError):
    """HTTP 401: the login cookie is missing or no longer valid (EMhub's key changed)."""


class PollTimeout(TransportError):
    """The long poll got no answer within ``poll_timeout``."""


class ServerBusy(TransportError):
    """EMhub answered, but with an error from its Redis (down, restarting, loading)."""


class ServerError(EMhubError):
    """EMhub answered with ``{"error": ...}`` (always HTTP 200 on EMhub 1.0.2)."""


class AuthenticationError(ServerError):
    """Wrong user or password, or a worker name EMhub does not know. Retrying cannot help."""


class EventRejected(ServerError):
    """EMhub refused an ``update_task`` event."""


class TokenRejected(ServerError):
    """EMhub does not accept the worker token any more: ``connect_worker`` again."""


class ProtocolError(EMhubError):
    """A reply EMhub's protocol does not allow (not JSON, missing result key)."""


#: Errors that refuse a task in words (args that cannot work, a configuration mistake, a
#: path outside the roots, a plugin that cannot load): the task's event carries the
#: message alone, one line, no Python stack. Anything else escaping a handler is a bug
#: and carries its stack (in the log, and in the event).
REFUSALS: tuple[type[EmworkerError], ...] = (TaskError, ConfigError, UsageError, PluginError,
                                             ServiceUnavailable)
