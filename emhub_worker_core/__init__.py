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

from .version import PLUGIN_API, __version__

if TYPE_CHECKING:  # what the names are, for type checkers and readers
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
    from .events import EncodedEvent, encode_event  # noqa: F401  (internal use)
    from .execution import Outcome
    from .handler import HandlerFactory, TaskContext, TaskHandler
    from .hookspecs import RegisterTask, hookimpl
    from .plugin_settings import Setting, parse_settings, setting
    from .runner import CommandResult, CommandRunner, Runner, check_result  # noqa: F401
    from .services import EMhubServices
    from .task import Task

#: module -> the public names it defines (``encode_event`` and ``CommandRunner`` stay
#: importable for internal use, outside ``__all__``)
_MODULES = {
    "errors": ("AuthenticationError", "CommandError", "CommandNotFound", "CommandTimeout",
               "ConfigError", "EMhubError", "EmworkerError", "EventRejected", "PluginError",
               "ProtocolError", "ServerError", "ServiceUnavailable", "TaskError",
               "TransportError"),
    "events": ("EncodedEvent", "encode_event"),
    "execution": ("Outcome",),
    "handler": ("HandlerFactory", "TaskContext", "TaskHandler"),
    "hookspecs": ("RegisterTask", "hookimpl"),
    "plugin_settings": ("Setting", "parse_settings", "setting"),
    "runner": ("CommandResult", "CommandRunner", "Runner", "check_result"),
    "services": ("EMhubServices",),
    "task": ("Task",),
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
    # a plugin's settings, declared once
    "setting", "Setting", "parse_settings",
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
