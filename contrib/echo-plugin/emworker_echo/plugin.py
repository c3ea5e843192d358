"""Entry point of the ``echo`` plugin: it names its handler and its settings.

The handler is a ``"module:Attribute"`` string, imported only when a task needs it, so
``emworker plugins list`` stays quick however heavy the handler's imports are.
"""

from __future__ import annotations

from typing import Mapping

from emhub_worker_core import RegisterTask, hookimpl

#: The keys of ``[plugins.echo]`` the handler reads; emworker reports any other as a typo.
SETTINGS = {"prefix": "put before every message"}


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("echo", "emworker_echo.handler:EchoHandler")


@hookimpl
def emworker_plugin_settings() -> Mapping[str, str]:
    return SETTINGS
