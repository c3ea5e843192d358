"""Entry point of the ``session-otf`` plugin. The handler is named, not imported: listing
plugins must not pay for it."""

from __future__ import annotations

from emhub_worker_core import RegisterTask, hookimpl

HANDLER = "emworker_session_otf.handler:OtfHandler"


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("session-otf", HANDLER)
    # Stock EMhub creates "session" tasks and picks the job with args.action.
    register("session", HANDLER, action="otf")


@hookimpl
def emworker_plugin_settings() -> type:
    from .settings import OtfSettings  # the declaration the handler reads by

    return OtfSettings
