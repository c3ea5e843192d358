"""emworker: a plugin-based worker host for EMhub.

This module is the public surface for plugin authors: everything in :data:`__all__` is the
plugin contract and stays compatible within one plugin API (:data:`PLUGIN_API`). The test
kit is :mod:`emhub_worker_core.testing`. Every other module is internal: import from here.

Names are imported on first use (PEP 562), so ``import emhub_worker_core`` (which every
``emworker`` command and every plugin module does) costs next to nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .contract.version import PLUGIN_API, __version__

if TYPE_CHECKING:  # what the names are, for type checkers and readers
    from .contract.commands import CommandResult, CommandRunner, Runner, check_result  # noqa: F401
    from .contract.emhub_services import EMhubServices
    from .contract.errors import (
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
    from .contract.events import EncodedEvent, encode_event  # noqa: F401  (internal use)
    from .contract.handler import HandlerFactory, Outcome, TaskContext, TaskHandler
    from .contract.hooks import RegisterTask, hookimpl
    from .contract.task import Task

#: module -> the public names it defines (``encode_event`` and ``CommandRunner`` stay
#: importable for internal use, outside ``__all__``)
_MODULES = {
    "contract.errors": ("AuthenticationError", "CommandError", "CommandNotFound", "CommandTimeout",
               "ConfigError", "EMhubError", "EmworkerError", "EventRejected", "PluginError",
               "ProtocolError", "ServerError", "ServiceUnavailable", "TaskError",
               "TransportError"),
    "contract.events": ("EncodedEvent", "encode_event"),
    "contract.handler": ("HandlerFactory", "Outcome", "TaskContext", "TaskHandler"),
    "contract.hooks": ("RegisterTask", "hookimpl"),
    "contract.commands": ("CommandResult", "CommandRunner", "Runner", "check_result"),
    "contract.emhub_services": ("EMhubServices",),
    "contract.task": ("Task",),
}
#: public name -> the module that defines it
_HOMES = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


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
