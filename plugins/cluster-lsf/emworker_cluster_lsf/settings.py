"""The task args and ``[plugins.cluster-lsf]`` keys, with their defaults (task args win)."""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {"pattern": "cryo", "queues": None, "period": 30.0, "timeout": 30.0}
