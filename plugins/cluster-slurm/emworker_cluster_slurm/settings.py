"""Task args and ``[plugins.cluster-slurm]`` of ``cluster-slurm``, declared once (task
args win where allowed; the core checks both before the first poll)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from emhub_worker_core import setting

# Partition names are only ever compared client-side, but refuse anything odd early.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
MODES = ("auto", "json", "text")


def _names(value: Any) -> list[str]:
    if value == "":
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"partitions must be a list or a comma-separated string, got {value!r}")
    names = [str(item).strip() for item in items if str(item).strip()]
    bad = [n for n in names if not NAME_RE.match(n)]
    if bad:
        raise ValueError(f"invalid partition name(s): {bad}")
    return names


@dataclass(frozen=True)
class Settings:
    partitions: tuple[str, ...] = setting(
        (), "report exactly these partitions (list or comma-separated)", task_arg=True,
        convert=_names)
    pattern: str = setting("cryo", "partition names containing this are reported",
                           task_arg=True)
    period: float = setting(30.0, "seconds between two snapshots", above=0, task_arg=True)
    mode: str = setting("auto", "how to read Slurm", choices=MODES, task_arg=True)
    timeout: float = setting(20.0, "seconds each Slurm command may take", above=0)
    slurm_conf: str = setting("", "SLURM_CONF for the Slurm commands (another cluster's "
                                  "slurm.conf); else the worker's environment")

    @property
    def env(self) -> dict[str, str] | None:
        """The Slurm commands' environment: the worker's, with ``SLURM_CONF`` if set."""
        return {**os.environ, "SLURM_CONF": self.slurm_conf} if self.slurm_conf else None
