"""emworker: a plugin-based worker host for EMhub.

The public surface for plugin authors is re-exported here; everything else is internal.
"""

from .errors import (
                     CommandError,
                     CommandNotFound,
                     CommandTimeout,
                     ConfigError,
                     EMhubError,
                     EmworkerError,
                     ServerError,
                     ServiceUnavailable,
                     TaskError,
                     TransportError,
)
from .events import encode_event
from .handler import TaskContext, TaskHandler
from .hookspecs import hookimpl
from .runner import CommandResult, CommandRunner
from .task import Task

__version__ = "0.1.0"

__all__ = [
    "CommandError", "CommandNotFound", "CommandResult", "CommandRunner", "CommandTimeout",
    "ConfigError", "EMhubError", "EmworkerError", "ServerError", "ServiceUnavailable", "Task",
    "TaskContext", "TaskError", "TaskHandler", "TransportError", "__version__", "encode_event",
    "hookimpl",
]
