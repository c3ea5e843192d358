"""emworker: a plugin-based worker host for EMhub.

This module is the public surface for plugin authors: everything in :data:`__all__` is the
plugin contract and stays compatible within one plugin API (:data:`PLUGIN_API`). The test
kit is :mod:`emhub_worker_core.testing`. Every other module is internal: import from here.
"""

from .errors import (
    AuthenticationError,
    CommandError,
    CommandNotFound,
    CommandTimeout,
    ConfigError,
    EMhubError,
    EmworkerError,
    EventRejected,
    PluginError,
    ProtocolError,
    ServerError,
    ServiceUnavailable,
    TaskError,
    TransportError,
)
from .events import EncodedEvent, encode_event  # noqa: F401  (encode_event: internal use)
from .execution import Outcome
from .handler import HandlerFactory, TaskContext, TaskHandler
from .hookspecs import RegisterTask, hookimpl
from .runner import CommandResult, CommandRunner, Runner, check_result  # noqa: F401
from .services import EMhubServices
from .task import Task
from .version import PLUGIN_API, __version__

__all__ = [
    # the hooks and what they receive
    "hookimpl", "RegisterTask", "HandlerFactory",
    # the handler model
    "TaskHandler", "TaskContext", "Task", "Outcome", "EncodedEvent",
    # what a handler may call
    "EMhubServices", "Runner", "CommandResult", "check_result",
    # the exception tree (see errors.py's docstring)
    "EmworkerError", "ConfigError", "PluginError", "TaskError", "CommandError",
    "CommandNotFound", "CommandTimeout", "ServiceUnavailable", "EMhubError", "TransportError",
    "ServerError", "AuthenticationError", "EventRejected", "ProtocolError",
    # versions
    "PLUGIN_API", "__version__",
]
