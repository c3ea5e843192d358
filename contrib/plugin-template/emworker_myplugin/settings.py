"""The settings of ``myplugin``, declared once: ``[plugins.myplugin]`` and the task args
that may override them. The core reads and checks both by this declaration, shows it in
``emworker check`` and ``emworker plugins list --json``, and refuses an unknown key."""

from __future__ import annotations

from dataclasses import dataclass

from emhub_worker_core import setting


@dataclass(frozen=True)
class MyPluginSettings:
    allowed_root: str = setting("", "a folder that the task's folder must be inside")
    period: float = setting(60.0, "seconds between two counts", minimum=0, task_arg=True,
                            unit="seconds")
    times: int = setting(0, "steps before done (0: until stopped)", minimum=0, task_arg=True)
