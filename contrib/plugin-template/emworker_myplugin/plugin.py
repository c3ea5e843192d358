"""Entry point of the ``myplugin`` plugin: it names its handler and its settings.

The handler is a ``"module:Attribute"`` string, imported only when a task needs it, so
``emworker plugins list`` stays quick however heavy the handler's imports are.
"""

from __future__ import annotations

from emhub_worker_core import RegisterTask, hookimpl


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("myplugin", "emworker_myplugin.handler:MyPluginHandler")


@hookimpl
def emworker_plugin_settings() -> type:
    from .settings import MyPluginSettings  # imported when settings are checked, not listed

    return MyPluginSettings
