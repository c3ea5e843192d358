"""Entry point of the ``frames-monitor`` plugin. Handlers are named, not imported: listing
plugins must not pay for them."""

from __future__ import annotations

from emhub_worker_core import RegisterTask, hookimpl


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    # "frames" is the name stock EMhub gives this task.
    register("frames-monitor", "emworker_frames_monitor.handler:FramesMonitorHandler",
             aliases=["frames"])


@hookimpl
def emworker_plugin_settings() -> type:
    from .settings import FramesOptions  # the declaration load_settings reads by

    return FramesOptions
