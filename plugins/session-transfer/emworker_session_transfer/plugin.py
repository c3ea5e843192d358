"""Entry point of the ``session-transfer`` plugin."""

from __future__ import annotations

from emhub_worker_core import RegisterTask, hookimpl

from .handler import MonitorHandler, TransferHandler


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("session-transfer", TransferHandler)
    # Stock EMhub creates "session" tasks and picks the job with args.action.
    register("session", TransferHandler, action="transfer")
    register("session", MonitorHandler, action="monitor")
