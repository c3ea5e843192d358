"""The task args and ``[plugins.cluster-lsf]`` keys, declared once (task args win)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from emhub_worker_core import setting

from .parse import SAFE_NAME


def _queue_names(value: Any) -> list[str]:
    """One name or a list of them, each a plain LSF queue name (never an option)."""
    queues = [value] if isinstance(value, str) else value
    if not isinstance(queues, list) or not all(isinstance(q, str) and SAFE_NAME.match(q)
                                               for q in queues):
        raise ValueError(f"must be a list of LSF queue names ({SAFE_NAME.pattern}), "
                         f"got {value!r}")
    return queues


@dataclass(frozen=True)
class LSFSettings:
    pattern: str = setting("cryo", "queue names containing this are reported", task_arg=True)
    queues: Optional[tuple[str, ...]] = setting(
        None, "report exactly these LSF queues instead of matching a pattern", task_arg=True,
        convert=_queue_names)
    period: float = setting(30.0, "seconds between two snapshots", minimum=0, task_arg=True)
    timeout: float = setting(30.0, "seconds each bqueues/bjobs/bhosts call may take",
                             above=0, task_arg=True)
