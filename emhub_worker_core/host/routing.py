"""The routing table: task name (and optionally ``args.action``) to the handler that runs it.

Built once from every plugin's claims. A name claimed by two plugins is a conflict: it is
not routed at all (never first-wins or last-wins in silence) until the admin pins one
plugin for it in the configuration (``[plugins] pins = {"session:transfer" = "..."}``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Optional

from ..contract.errors import TaskError
from ..contract.task import Task

if TYPE_CHECKING:
    from ..contract.handler import HandlerFactory


@dataclass(frozen=True)
class Claim:
    """One plugin's claim on a task name (and action)."""

    task_name: str
    action: Optional[str]
    factory: "HandlerFactory"
    plugin: str
    distribution: Optional[str] = None

    @property
    def key(self) -> str:
        return route_key(self.task_name, self.action)

    def describe(self) -> str:
        return f"{self.plugin} ({self.distribution or 'no distribution'})"


def route_key(task_name: str, action: Optional[str] = None) -> str:
    """``"name"`` or ``"name:action"``: how routes are named in logs, listings and pins."""
    return f"{task_name}:{action}" if action else task_name


class Router:
    """Task -> claim, with conflicts and pins resolved once at construction."""

    def __init__(self, claims: Iterable[Claim], pins: Mapping[str, str] | None = None) -> None:
        pins = dict(pins or {})
        by_key: dict[str, list[Claim]] = defaultdict(list)
        for claim in claims:
            by_key[claim.key].append(claim)
        self.routes: dict[str, Claim] = {}
        self.conflicts: dict[str, list[Claim]] = {}
        #: pins that name no claimant of their route (reported by ``emworker check``)
        self.unused_pins: dict[str, str] = {}
        for key, claimants in by_key.items():
            pinned = pins.get(key)
            chosen = [c for c in claimants if c.plugin == pinned] if pinned else claimants
            if pinned and not chosen:
                self.unused_pins[key] = pinned
                chosen = claimants
            if len(chosen) == 1:
                self.routes[key] = chosen[0]
            else:
                self.conflicts[key] = chosen
        for key, plugin in pins.items():
            if key not in by_key:
                self.unused_pins[key] = plugin

    def resolve(self, task: Task) -> Claim:
        """The claim that runs ``task``; :class:`TaskError` with a clear reason otherwise."""
        action = task.action
        for key in ([route_key(task.name, action)] if action else []) + [task.name]:
            if key in self.conflicts:
                names = ", ".join(c.describe() for c in self.conflicts[key])
                raise TaskError(f"Task {key} is claimed by several plugins: {names}; "
                                f"pin one in the configuration ([plugins] pins)")
            if key in self.routes:
                return self.routes[key]
        actions = sorted(k.split(":", 1)[1] for k in list(self.routes) + list(self.conflicts)
                         if k.startswith(task.name + ":"))
        if actions:
            # a non-string action (a number, a list) is named as itself, never as None
            given = task.args.get("action")
            shown = repr(given) if len(repr(given)) <= 80 else repr(given)[:77] + "..."
            raise TaskError(f"Unknown action {shown} for task {task.name}; "
                            f"this worker handles: {', '.join(actions)}")
        raise TaskError(f"There is no handler for task {task.name}")

    def task_names(self) -> list[str]:
        """Every routed name, as ``name`` or ``name:action``, sorted."""
        return sorted(self.routes)
