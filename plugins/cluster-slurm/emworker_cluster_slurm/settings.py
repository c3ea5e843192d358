"""Task args and plugin config of ``cluster-slurm``, checked once before the first poll."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Mapping

from emhub_worker_core import TaskError

# Partition names are only ever compared client-side, but refuse anything odd early.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
MODES = ("auto", "json", "text")
#: Every ``[plugins.cluster-slurm]`` key :meth:`Settings.from_task` reads.
CONFIG_KEYS = ("partitions", "pattern", "period", "mode", "timeout", "slurm_conf")


def _names(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise TaskError(f"partitions must be a list or a comma-separated string, got {value!r}")
    names = [str(item).strip() for item in items if str(item).strip()]
    bad = [n for n in names if not NAME_RE.match(n)]
    if bad:
        raise TaskError(f"invalid partition name(s): {bad}")
    return names


@dataclass(frozen=True)
class Settings:
    partitions: list[str]
    pattern: str
    period: float
    mode: str
    timeout: float
    env: dict[str, str] | None

    @classmethod
    def from_task(cls, args: Mapping[str, Any], config: Mapping[str, Any]) -> "Settings":
        def pick(key: str, default: Any) -> Any:
            return args.get(key, config.get(key, default))

        try:
            period = float(pick("period", 30))
            timeout = float(config.get("timeout", 20))
        except (TypeError, ValueError):
            raise TaskError("period and timeout must be numbers") from None
        if period <= 0 or timeout <= 0:
            raise TaskError("period and timeout must be positive")
        mode = str(pick("mode", "auto"))
        if mode not in MODES:
            raise TaskError(f"mode must be one of {MODES}, got {mode!r}")
        pattern = str(pick("pattern", "cryo"))
        slurm_conf = config.get("slurm_conf")
        env = {**os.environ, "SLURM_CONF": str(slurm_conf)} if slurm_conf else None
        return cls(partitions=_names(pick("partitions", None)), pattern=pattern, period=period,
                   mode=mode, timeout=timeout, env=env)
