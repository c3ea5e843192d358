"""Tier 1 and 2 plugin tests: in memory on a fresh manager, and through faked distributions."""

from __future__ import annotations

import types
from typing import Any

import pytest

from emhub_worker_core import TaskHandler, hookimpl
from emhub_worker_core.contract.errors import TaskError
from emhub_worker_core.contract.task import Task
from emhub_worker_core.host.plugin_loader import EntryPointRef, PluginSet, load_plugins


class Noop(TaskHandler):
    def process(self) -> None:
        self.done()


class Other(Noop):
    pass


def plugin(*claims: tuple[Any, ...]) -> types.SimpleNamespace:
    """A plugin object registering ``(name, factory, kwargs)`` claims."""
    @hookimpl
    def emworker_register_tasks(register: Any) -> None:
        for name, factory, kwargs in claims:
            register(name, factory, **kwargs)
    return types.SimpleNamespace(emworker_register_tasks=emworker_register_tasks)


class FakeEntryPoint:
    """Stands in for importlib.metadata.EntryPoint: ``load`` returns or raises."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def load(self) -> Any:
        if isinstance(self.obj, BaseException):
            raise self.obj
        return self.obj


def ref(name: str, obj: Any, dist: str | None = None) -> EntryPointRef:
    return EntryPointRef(name, FakeEntryPoint(obj), dist or f"emworker-{name}", "1.0")


def test_in_memory_registration_routes_names_and_aliases() -> None:
    plugins = PluginSet()
    info = plugins.add(plugin(("frames-monitor", Noop, {"aliases": ["frames"]})), "frames")
    router = plugins.router()
    assert info.status == "ok" and info.tasks == ["frames", "frames-monitor"]
    assert router.resolve(Task("1-0", "frames", {})).factory is Noop
    assert router.resolve(Task("1-1", "frames-monitor", {})).plugin == "frames"


def test_actions_of_one_name_can_belong_to_different_plugins() -> None:
    plugins = PluginSet()
    plugins.add(plugin(("session", Noop, {"action": "transfer"})), "transfer")
    plugins.add(plugin(("session", Other, {"action": "otf"})), "otf")
    router = plugins.router()
    assert router.resolve(Task("1-0", "session", {"action": "transfer"})).factory is Noop
    assert router.resolve(Task("1-1", "session", {"action": "otf"})).factory is Other
    with pytest.raises(TaskError, match="Unknown action 'monitor' for task session"):
        router.resolve(Task("1-2", "session", {"action": "monitor"}))
    with pytest.raises(TaskError, match="Unknown action None"):
        router.resolve(Task("1-3", "session", {}))


def test_action_names_are_never_looked_up_as_methods() -> None:
    plugins = PluginSet()
    plugins.add(plugin(("session", Noop, {"action": "transfer"})), "transfer")
    with pytest.raises(TaskError, match="Unknown action 'process'"):
        plugins.router().resolve(Task("1-0", "session", {"action": "process"}))


def test_unknown_task_name() -> None:
    with pytest.raises(TaskError, match="There is no handler for task bogus"):
        PluginSet().router().resolve(Task("1-0", "bogus", {}))


def test_broken_import_is_set_aside_and_others_work() -> None:
    plugins, router = load_plugins(refs=[
        ref("broken", ImportError("No module named 'numpy'")),
        ref("echo", plugin(("echo", Noop, {}))),
    ])
    infos = {i.name: i for i in plugins.listing()}
    assert infos["broken"].status == "failed"
    assert "import failed: ImportError: No module named 'numpy'" == infos["broken"].error
    assert infos["echo"].status == "ok"
    assert router.resolve(Task("1-0", "echo", {})).plugin == "echo"


def test_duplicate_task_name_is_not_routed_and_names_both() -> None:
    plugins, router = load_plugins(refs=[ref("a", plugin(("echo", Noop, {})), "dist-a"),
                                         ref("b", plugin(("echo", Other, {})), "dist-b")])
    infos = {i.name: i for i in plugins.listing()}
    assert infos["a"].status == infos["b"].status == "conflict"
    assert "dist-b" in (infos["a"].error or "") and "dist-a" in (infos["b"].error or "")
    with pytest.raises(TaskError, match="a \\(dist-a\\), b \\(dist-b\\)"):
        router.resolve(Task("1-0", "echo", {}))


def test_a_pin_settles_a_conflict() -> None:
    plugins, router = load_plugins(pins={"echo": "b"}, refs=[
        ref("a", plugin(("echo", Noop, {}))), ref("b", plugin(("echo", Other, {})))])
    assert router.resolve(Task("1-0", "echo", {})).factory is Other
    assert {i.status for i in plugins.listing()} == {"ok"}


def test_disabled_plugin_is_listed_and_not_loaded() -> None:
    loaded: list[str] = []

    class Recorder(FakeEntryPoint):
        def load(self) -> Any:
            loaded.append("x")
            return super().load()

    plugins, router = load_plugins(disabled=["echo"], refs=[
        EntryPointRef("echo", Recorder(plugin(("echo", Noop, {}))), "emworker-echo", "1")])
    assert [i.status for i in plugins.listing()] == ["disabled"]
    assert loaded == []
    with pytest.raises(TaskError):
        router.resolve(Task("1-0", "echo", {}))


def test_misspelled_hook_fails_that_plugin_only() -> None:
    @hookimpl
    def emworker_register_task(register: Any) -> None:  # missing "s"
        register("typo", Noop)

    bad = types.SimpleNamespace(emworker_register_task=emworker_register_task)
    plugins, router = load_plugins(refs=[ref("typo", bad), ref("echo", plugin(("echo", Noop, {})))])
    infos = {i.name: i for i in plugins.listing()}
    assert infos["typo"].status == "failed" and "invalid hooks" in (infos["typo"].error or "")
    assert "emworker_register_task" in (infos["typo"].error or "")
    assert infos["echo"].status == "ok"
    assert plugins.pm.get_plugin("typo") is None


def test_a_plugin_raising_in_register_is_failed() -> None:
    @hookimpl
    def emworker_register_tasks(register: Any) -> None:
        register("ok-name", Noop)
        raise RuntimeError("boom")

    plugins, router = load_plugins(refs=[ref("raiser", types.SimpleNamespace(
        emworker_register_tasks=emworker_register_tasks))])
    info = plugins.listing()[0]
    assert info.status == "failed" and "boom" in (info.error or "")
    with pytest.raises(TaskError):  # its partial claims are not routed
        router.resolve(Task("1-0", "ok-name", {}))


def test_invalid_task_names_fail_registration() -> None:
    plugins = PluginSet()
    info = plugins.add(plugin(("a:b", Noop, {})), "colon")
    assert info.status == "failed" and "invalid task name" in (info.error or "")


def test_same_entry_point_name_from_two_distributions() -> None:
    plugins, _ = load_plugins(refs=[ref("echo", plugin(("echo", Noop, {})), "dist-1"),
                                    ref("echo", plugin(("echo2", Noop, {})), "dist-2")])
    statuses = sorted((i.name, i.status) for i in plugins.listing())
    assert statuses == [("echo", "ok"), ("echo@dist-2", "failed")]
