"""Entry point of the ``session-transfer`` plugin. Handlers are named, not imported:
listing plugins must not pay for them."""

from __future__ import annotations

from emhub_worker_core import RegisterTask, hookimpl

HANDLERS = "emworker_session_transfer.handler"


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("session-transfer", f"{HANDLERS}:TransferHandler")
    # Stock EMhub creates "session" tasks and picks the job with args.action.
    register("session", f"{HANDLERS}:TransferHandler", action="transfer")
    register("session", f"{HANDLERS}:MonitorHandler", action="monitor")


@hookimpl
def emworker_plugin_settings() -> type:
    from .settings import TransferSettings  # the declaration the handler reads by

    return TransferSettings
