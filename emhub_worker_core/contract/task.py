"""The task as the host sees it, whatever its source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import TaskError


@dataclass(frozen=True)
class Task:
    """One task: EMhub's ``{"id", "name", "args"}``."""

    id: str
    name: str
    args: Mapping[str, Any] = field(default_factory=dict)

    @property
    def action(self) -> str | None:
        """``args["action"]`` when it is a string (EMhub's ``session`` tasks use it)."""
        action = self.args.get("action")
        return action if isinstance(action, str) else None

    @classmethod
    def from_json(cls, data: Any) -> Task:
        """Build a task from a server or file record; raise :class:`TaskError` if malformed."""
        if not isinstance(data, Mapping):
            raise TaskError(f"a task must be an object, got {type(data).__name__}")
        task_id, name, args = data.get("id"), data.get("name"), data.get("args", {})
        if not isinstance(task_id, str) or not task_id:
            raise TaskError(f"task has no valid 'id': {task_id!r}")
        if not isinstance(name, str) or not name:
            raise TaskError(f"task {task_id} has no valid 'name': {name!r}")
        if args is None:
            args = {}
        if not isinstance(args, Mapping):
            # EMhub accepts any JSON value as args; handlers expect an object.
            raise TaskError(f"task {task_id} ({name}): 'args' must be an object, "
                            f"got {type(args).__name__}")
        return cls(id=task_id, name=name, args=dict(args))
