"""emworker: a plugin-based worker host for EMhub.

The public surface for plugin authors is re-exported here; everything else is internal.
Names are imported on first use (PEP 562), so ``import emhub_worker_core`` (which every
``emworker`` command and every plugin module does) costs next to nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # what the names are, for type checkers and readers
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

#: public name -> the module that defines it
_HOMES = {
    "CommandError": "errors", "CommandNotFound": "errors", "CommandTimeout": "errors",
    "ConfigError": "errors", "EMhubError": "errors", "EmworkerError": "errors",
    "ServerError": "errors", "ServiceUnavailable": "errors", "TaskError": "errors",
    "TransportError": "errors", "encode_event": "events", "TaskContext": "handler",
    "TaskHandler": "handler", "hookimpl": "hookspecs", "CommandResult": "runner",
    "CommandRunner": "runner", "Task": "task",
}


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
    "CommandError", "CommandNotFound", "CommandResult", "CommandRunner", "CommandTimeout",
    "ConfigError", "EMhubError", "EmworkerError", "ServerError", "ServiceUnavailable", "Task",
    "TaskContext", "TaskError", "TaskHandler", "TransportError", "__version__", "encode_event",
    "hookimpl",
]
