"""Entry point of the ``echo`` plugin: it names its handler and declares its settings.

The handler is a ``"module:Attribute"`` string, imported only when a task needs it, so
``emworker plugins list`` stays quick however heavy the handler's imports are.
"""

from __future__ import annotations

from dataclasses import dataclass

from emhub_worker_core import RegisterTask, hookimpl, setting


@dataclass(frozen=True)
class EchoSettings:
    """``[plugins.echo]``, declared once; a task's args override those marked task_arg."""

    prefix: str = setting("", "put before every message")
    message: str = setting("hello", "what is sent", task_arg=True)
    repeat: int = setting(3, "messages before done", minimum=1, task_arg=True)
    interval: float = setting(1.0, "seconds between two messages", minimum=0, task_arg=True,
                              unit="seconds")


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("echo", "emworker_echo.handler:EchoHandler")


@hookimpl
def emworker_plugin_settings() -> type:
    return EchoSettings
