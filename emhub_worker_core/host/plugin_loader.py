"""Find, load and report on plugins: one pluggy manager, each plugin in its own ``try``.

A plugin that fails to import, has a misspelled hook (``check_pending``) or raises while
registering is set aside with its error; every other plugin keeps working.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

import pluggy

from ..contract import hooks
from ..contract.compatibility import incompatibility
from ..contract.events import json_safe
from .lazy_handlers import as_factory
from .routing import Claim, Router, route_key

if TYPE_CHECKING:
    from ..contract.handler import HandlerFactory

log = logging.getLogger("emworker.plugins")

STATUS_OK, STATUS_FAILED, STATUS_DISABLED, STATUS_CONFLICT = "ok", "failed", "disabled", \
    "conflict"


@dataclass
class PluginInfo:
    """What ``emworker plugins list`` shows for one plugin."""

    name: str
    distribution: Optional[str] = None
    version: Optional[str] = None
    tasks: list[str] = field(default_factory=list)
    status: str = STATUS_OK
    error: Optional[str] = None

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "distribution": self.distribution, "version": self.version,
                "tasks": list(self.tasks), "status": self.status, "error": self.error}


@dataclass(frozen=True)
class EntryPointRef:
    """An entry point with the distribution that declares it (works on Python 3.9 too)."""

    name: str
    entry_point: Any  # importlib.metadata.EntryPoint, or anything with .load()
    distribution: Optional[str]
    version: Optional[str]
    #: the distribution's ``Requires-Dist`` lines (checked against the plugin API)
    requires: tuple[str, ...] = ()


def iter_entry_points(group: str = hooks.PROJECT_NAME) -> Iterator[EntryPointRef]:
    """Every entry point of ``group`` in the environment, each distribution once."""
    seen: set[tuple[str, str]] = set()
    for dist in metadata.distributions():
        ours = [ep for ep in dist.entry_points if ep.group == group]
        if not ours:  # most distributions: skip parsing their METADATA (the slow part)
            continue
        dist_name = dist.metadata["Name"] or "?"
        for ep in ours:
            if (dist_name.lower(), ep.name) in seen:
                continue
            seen.add((dist_name.lower(), ep.name))
            yield EntryPointRef(ep.name, ep, dist_name, dist.version, tuple(dist.requires or ()))


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hooks.PROJECT_NAME)
    pm.add_hookspecs(hooks)
    return pm


class PluginSet:
    """The plugins of one host: their manager, their status and their claims."""

    def __init__(self, *, disabled: Iterable[str] = (),
                 pins: Mapping[str, str] | None = None) -> None:
        self.pm = new_plugin_manager()
        self.disabled = set(disabled)
        self.pins = dict(pins or {})
        self.infos: dict[str, PluginInfo] = {}
        self.claims: list[Claim] = []
        self._settings: dict[str, Optional[dict[str, str]]] = {}  # declared_settings, asked once

    # -- loading ---------------------------------------------------------------------------
    def load_entry_points(self, refs: Iterable[EntryPointRef] | None = None) -> None:
        """Load every plugin of the ``emworker`` group (or ``refs``), each on its own."""
        for ref in iter_entry_points() if refs is None else refs:
            if ref.name in self.infos:
                first = self.infos[ref.name]
                self._failed(f"{ref.name}@{ref.distribution}", ref.distribution, ref.version,
                             f"plugin name {ref.name!r} is already used by "
                             f"{first.distribution}")
                continue
            if ref.name in self.disabled:
                self.infos[ref.name] = PluginInfo(ref.name, ref.distribution, ref.version,
                                                  status=STATUS_DISABLED)
                log.info("plugin %s (%s) is disabled", ref.name, ref.distribution)
                continue
            mismatch = incompatibility(ref.requires)
            if mismatch is not None:  # refused before import: its code may not even load
                self._failed(ref.name, ref.distribution, ref.version, mismatch)
                continue
            try:
                plugin = ref.entry_point.load()
            except (Exception, SystemExit) as exc:  # sys.exit() at import must not end us
                self._failed(ref.name, ref.distribution, ref.version,
                             f"import failed: {type(exc).__name__}: {exc}", exc)
                continue
            self.add(plugin, ref.name, ref.distribution, ref.version)

    def add(self, plugin: object, name: str, distribution: Optional[str] = None,
            version: Optional[str] = None) -> PluginInfo:
        """Register one plugin object (a module, usually) and collect its task claims."""
        if name in self.disabled:
            info = PluginInfo(name, distribution, version, status=STATUS_DISABLED)
            self.infos[name] = info
            return info
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except Exception as exc:
            self._unregister(name)
            return self._failed(name, distribution, version,
                                f"invalid hooks: {type(exc).__name__}: {exc}", exc)
        info = PluginInfo(name, distribution, version)
        self.infos[name] = info
        claims: list[Claim] = []

        def register(task_name: str, handler_factory: Union[HandlerFactory, str], *,
                     action: Optional[str] = None, aliases: Sequence[str] = ()) -> None:
            _check_action(task_name, action)
            factory = as_factory(handler_factory)
            for task in [task_name, *_alias_list(task_name, aliases)]:
                if not isinstance(task, str) or not task or ":" in task:
                    raise ValueError(f"invalid task name {task!r}")
                claims.append(Claim(task, action, factory, name, distribution))

        try:
            for impl in self.pm.hook.emworker_register_tasks.get_hookimpls():
                if impl.plugin_name == name:
                    impl.function(**{a: register for a in impl.argnames if a == "register"})
        except (Exception, SystemExit) as exc:
            self._unregister(name)
            return self._failed(name, distribution, version,
                                f"registration failed: {type(exc).__name__}: {exc}", exc)
        self.claims.extend(claims)
        info.tasks = sorted({c.key for c in claims})
        return info

    def worker_specs(self) -> dict[str, Any]:
        """Every plugin's ``emworker_worker_specs``, each called on its own.

        A plugin that raises, or returns anything but a dict (or ``None``), is logged and
        its contribution skipped; values are made JSON-safe (see :func:`.events.json_safe`)
        so one odd value cannot make ``connect_worker`` fail. A key two plugins both set
        keeps the first plugin's value (by plugin name) and the clash is logged.
        """
        merged: dict[str, Any] = {}
        owner: dict[str, str] = {}
        impls = sorted(self.pm.hook.emworker_worker_specs.get_hookimpls(),
                       key=lambda impl: impl.plugin_name)
        for impl in impls:
            name = impl.plugin_name
            try:
                result = impl.function()
            except (Exception, SystemExit) as exc:
                log.error("plugin %s: emworker_worker_specs failed, its specs are skipped: "
                          "%s: %s", name, type(exc).__name__, exc)
                continue
            if result is None:
                continue
            if not isinstance(result, Mapping):
                log.error("plugin %s: emworker_worker_specs returned %s, not a dict; its "
                          "specs are skipped", name, type(result).__name__)
                continue
            safe = json_safe(result)
            assert isinstance(safe, dict)  # a Mapping always becomes a dict
            for key, value in safe.items():
                if key in merged:
                    log.warning("plugins %s and %s both set worker spec %r; keeping %s's "
                                "(prefix keys with the plugin name)", owner[key], name, key,
                                owner[key])
                    continue
                merged[key], owner[key] = value, name
        return merged

    def declared_settings(self, name: str) -> Optional[dict[str, str]]:
        """The keys of ``[plugins.<name>]`` the plugin declares (``None``: it declares none).

        Asked only when a configuration is checked (``run``, ``check``), not to list
        plugins: a plugin's answer may import its settings module.
        """
        if name not in self._settings:
            self._settings[name] = self._ask_settings(name)
        return self._settings[name]

    def _ask_settings(self, name: str) -> Optional[dict[str, str]]:
        """The plugin's ``emworker_plugin_settings`` answer; a broken one is logged."""
        for impl in self.pm.hook.emworker_plugin_settings.get_hookimpls():
            if impl.plugin_name != name:
                continue
            try:
                declared = impl.function()
                if declared is None:
                    return None
                if not isinstance(declared, Mapping) or \
                        not all(isinstance(k, str) for k in declared):
                    raise TypeError(f"expected a mapping of setting names, got "
                                    f"{type(declared).__name__}")
                return {key: str(text) for key, text in declared.items()}
            except (Exception, SystemExit) as exc:
                log.warning("plugin %s: emworker_plugin_settings failed, its settings "
                            "are not checked: %s: %s", name, type(exc).__name__, exc)
                return None
        return None

    def _unregister(self, name: str) -> None:
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)

    def _failed(self, name: str, distribution: Optional[str], version: Optional[str],
                error: str, exc: BaseException | None = None) -> PluginInfo:
        log.error("plugin %s (%s) set aside: %s", name, distribution, error)
        if exc is not None:
            log.debug("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        info = PluginInfo(name, distribution, version, status=STATUS_FAILED, error=error)
        self.infos[name] = info
        return info

    # -- results ---------------------------------------------------------------------------
    def router(self) -> Router:
        """Build the routing table; mark plugins in a conflict and log each conflict."""
        router = Router(self.claims, self.pins)
        for key, claimants in router.conflicts.items():
            names = ", ".join(c.describe() for c in claimants)
            log.error("task %s is claimed by %s: not routed until one is pinned", key, names)
            for claim in claimants:
                info = self.infos[claim.plugin]
                info.status = STATUS_CONFLICT
                others = [c.describe() for c in claimants if c.plugin != claim.plugin]
                note = f"{key} also claimed by {', '.join(others)}"
                info.error = note if not info.error else f"{info.error}; {note}"
        for key, plugin in router.unused_pins.items():
            log.warning("pin %s = %s matches no plugin claiming that task", key, plugin)
        return router

    def failed(self) -> list[PluginInfo]:
        return [i for i in self.infos.values() if i.status == STATUS_FAILED]

    def listing(self) -> list[PluginInfo]:
        """Every plugin, sorted by name (call :meth:`router` first for conflicts)."""
        return sorted(self.infos.values(), key=lambda i: i.name)


def _check_action(task_name: object, action: object) -> None:
    if action is not None and (not isinstance(action, str) or not action):
        raise TypeError(f"action for {task_name!r} must be a non-empty string or None, "
                        f"got {action!r} ({type(action).__name__})")


def _alias_list(task_name: object, aliases: object) -> list[object]:
    """``aliases`` as a list; a lone string is refused, not split into letters."""
    if isinstance(aliases, (str, bytes)):
        raise TypeError(f"aliases for {task_name!r} must be a list of task names, not the "
                        f"string {aliases!r} (write aliases=[{aliases!r}])")
    if not isinstance(aliases, Iterable):
        raise TypeError(f"aliases for {task_name!r} must be a list of task names, got "
                        f"{type(aliases).__name__}")
    try:
        return list(aliases)
    except TypeError:  # an iterable whose iteration fails
        raise TypeError(f"aliases for {task_name!r} must be a list of task names, got "
                        f"{type(aliases).__name__}") from None


def load_plugins(disabled: Iterable[str] = (), pins: Mapping[str, str] | None = None,
                 refs: Iterable[EntryPointRef] | None = None) -> tuple[PluginSet, Router]:
    """Load installed plugins and build the router: what the CLI commands start with."""
    plugins = PluginSet(disabled=disabled, pins=pins)
    plugins.load_entry_points(refs)
    return plugins, plugins.router()


__all__ = ["EntryPointRef", "PluginInfo", "PluginSet", "iter_entry_points", "load_plugins",
           "new_plugin_manager", "route_key"]
