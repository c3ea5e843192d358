"""Entry point of the ``frames-monitor`` plugin."""

from __future__ import annotations

from emhub_worker_core import RegisterTask, hookimpl

from .handler import FramesMonitorHandler


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    # "frames" is the name stock EMhub gives this task.
    register("frames-monitor", FramesMonitorHandler, aliases=["frames"])
