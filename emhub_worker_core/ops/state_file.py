"""The state file a running worker keeps for ``emworker status`` (no call to EMhub).

Written atomically (temporary file, then rename), so a reader never sees half a file;
written when something changed and as a heartbeat, not on a clock.

Without a configured ``[worker] state_dir`` each worker name gets its own folder under
the default one, so two workers on one machine never overwrite each other's file and
``emworker status`` with the same configuration finds the right one.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any, Mapping, Optional, Protocol

from ..guard import atomic_write

STATE_FILE = "state.json"


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$STATE_DIRECTORY`` (systemd's ``StateDirectory=``), else the user's state folder."""
    env = os.environ if env is None else env
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "/tmp")) / ".local" / "state")
    return Path(base) / "emworker"


class _Settings(Protocol):
    def get(self, section: str, key: str) -> Any: ...


def worker_name(config: _Settings) -> str:
    """``[worker] name``, else this machine's host name (what EMhub knows the worker by)."""
    return str(config.get("worker", "name") or socket.gethostname())


def worker_state_dir(config: _Settings) -> Path:
    """The state folder ``emworker run`` writes and ``emworker status`` reads."""
    return state_dir_for(config.get("worker", "state_dir"), worker_name(config))


def state_dir_for(configured: str | os.PathLike[str] | None, worker: str,
                  env: Mapping[str, str] | None = None) -> Path:
    """The folder of ``worker``'s state file: ``configured`` as given, else one per name."""
    if configured:
        return Path(configured)
    # A worker name is a host name: keep it a single, harmless path component.
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", worker).lstrip(".") or "worker"
    return default_state_dir(env) / safe


def write_state(directory: Path, state: Mapping[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    data = json.dumps(state, indent=1, default=str).encode("utf-8")
    atomic_write(directory, STATE_FILE, data, mode=0o600)   # durable, whole or not at all
    return directory / STATE_FILE


def read_state(directory: Path) -> Optional[dict[str, Any]]:
    try:
        with open(directory / STATE_FILE, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def age(timestamp: Any, now: float | None = None) -> Optional[float]:
    return (now or time.time()) - timestamp if isinstance(timestamp, (int, float)) else None
