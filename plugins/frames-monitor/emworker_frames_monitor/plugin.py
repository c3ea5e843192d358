"""Entry point of the ``frames-monitor`` plugin. Handlers are named, not imported: listing
plugins must not pay for them."""

from __future__ import annotations

from typing import Mapping

from emhub_worker_core import RegisterTask, hookimpl

ABOUT = {
    "period": "seconds between two scans (default 30)",
    "heartbeat": "resend the snapshot at least this often, changed or not (default 600)",
    "hot_window": "folders changed this recently have their files re-read each scan",
    "min_period": "the shortest period a task may ask for (default 5)",
    "root": "the frames folder, when the task does not name one",
    "allowed_roots": "folders a task's own root must lie inside",
    "expect_mount": "the root must be a mount point (else a 'not mounted' error)",
    "movie_suffixes": "file name endings that are movies (as session-transfer's; case as written)",
    "scan_threads": "threads that list folders when listings wait on I/O (default 3, 0: none)",
    "usage_step": "fraction the disk usage must move by to count as a change (default 0.001)",
}


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    # "frames" is the name stock EMhub gives this task.
    register("frames-monitor", "emworker_frames_monitor.handler:FramesMonitorHandler",
             aliases=["frames"])


@hookimpl
def emworker_plugin_settings() -> Mapping[str, str]:
    from .settings import CONFIG_KEYS  # the keys load_settings reads, so this cannot drift

    return {key: ABOUT.get(key, "(undocumented)") for key in CONFIG_KEYS}
