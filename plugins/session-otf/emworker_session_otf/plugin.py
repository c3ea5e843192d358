"""Entry point of the ``session-otf`` plugin."""

from __future__ import annotations

from emhub_worker_core import hookimpl
from emhub_worker_core import RegisterTask

from .handler import OtfHandler


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("session-otf", OtfHandler)
    # Stock EMhub creates "session" tasks and picks the job with args.action.
    register("session", OtfHandler, action="otf")
