"""A plugin's settings declared once (``setting()``), read by the core's one parser: types,
bounds, task-arg overrides, unknown keys reported once, the older mapping still loading."""

from __future__ import annotations

import dataclasses
import math
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

import pytest

from emhub_worker_core import (
    ConfigError,
    Outcome,
    TaskError,
    TaskHandler,
    hookimpl,
    parse_settings,
    setting,
)
from emhub_worker_core.cli.check_cmd import settings_line
from emhub_worker_core.contract.plugin_settings import declared
from emhub_worker_core.host.plugin_loader import PluginSet
from emhub_worker_core.host.plugin_tables import plugin_table_problems
from emhub_worker_core.ops.config import load_config
from emhub_worker_core.testing import run_handler


def _positive_names(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i.isalnum()
                                              for i in items):
        raise ValueError(f"must be names, got {value!r}")
    return items


@dataclass(frozen=True)
class Demo:
    name: str = setting("demo", "a string")
    workers: int = setting(4, "a whole number", minimum=1, maximum=64)
    period: float = setting(30.0, "seconds", above=0, task_arg=True, unit="seconds")
    strict: bool = setting(False, "a flag")
    mode: str = setting("auto", "one of three", choices=("auto", "json", "text"),
                        task_arg=True)
    names: tuple[str, ...] = setting(("a",), "a list", convert=_positive_names, task_arg=True)
    limit: Optional[int] = setting(None, "unset unless given", minimum=0)
    table: Mapping[str, Any] = setting({}, "a table")

    def __post_init__(self) -> None:
        if self.mode == "text" and self.strict:
            raise ValueError("strict needs mode json or auto")


def test_defaults_when_nothing_is_set() -> None:
    demo = parse_settings(Demo, {})
    assert demo == Demo() and demo.period == 30.0 and demo.names == ("a",)
    assert demo.table == {} and demo.table is not Demo().table  # each instance its own


@pytest.mark.parametrize("key, value, expected", [
    ("workers", 8, 8), ("period", 5, 5.0), ("period", 0.25, 0.25), ("strict", True, True),
    ("names", ["x", "y"], ("x", "y")), ("names", "x,y", ("x", "y")), ("limit", 0, 0),
    ("table", {"a": 1}, {"a": 1}), ("mode", "json", "json")])
def test_a_table_value_of_the_declared_type_is_taken(key: str, value: Any,
                                                     expected: Any) -> None:
    parsed = getattr(parse_settings(Demo, {key: value}), key)
    assert parsed == expected and type(parsed) is type(expected)


@pytest.mark.parametrize("key, value, message", [
    ("workers", "4", "plugins.demo.workers: must be a whole number, got '4'"),
    ("workers", True, "plugins.demo.workers: must be a whole number, got True"),
    ("workers", 4.0, "plugins.demo.workers: must be a whole number, got 4.0"),
    ("workers", 0, "plugins.demo.workers: must be at least 1, got 0"),
    ("workers", 65, "plugins.demo.workers: must be at most 64, got 65"),
    ("period", 0, "plugins.demo.period: must be positive, got 0"),
    ("period", "soon", "plugins.demo.period: must be a number of seconds, got 'soon'"),
    ("period", math.nan, "plugins.demo.period: must be a finite number, got nan"),
    ("period", math.inf, "plugins.demo.period: must be a finite number, got inf"),
    ("strict", 1, "plugins.demo.strict: must be true or false, got 1"),
    ("mode", "xml", "plugins.demo.mode: must be one of 'auto', 'json', 'text', got 'xml'"),
    ("names", ["a b"], "plugins.demo.names: must be names, got ['a b']"),
    ("names", ("x", 3), "plugins.demo.names: must be names, got ('x', 3)"),
    ("limit", -1, "plugins.demo.limit: must be at least 0, got -1"),
    ("table", [], "plugins.demo.table: must be a table, got []"),
    ("name", 3, "plugins.demo.name: must be a string, got 3")])
def test_a_bad_table_value_is_a_config_error_naming_table_and_key(key: str, value: Any,
                                                                  message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(Demo, {key: value}, plugin="demo")
    assert str(caught.value) == message


def test_the_file_is_named_when_given() -> None:
    with pytest.raises(ConfigError, match=r"^/etc/w.toml: plugins.demo.workers: must be"):
        parse_settings(Demo, {"workers": 0}, plugin="demo", where="/etc/w.toml")


def test_a_task_arg_overrides_the_table_where_allowed() -> None:
    demo = parse_settings(Demo, {"period": 60, "mode": "text"},
                          {"period": 2, "mode": "json", "other": "not a setting"})
    assert (demo.period, demo.mode) == (2.0, "json")
    assert parse_settings(Demo, {"period": 60}, {"period": None}).period == 60.0  # null: unset


def test_a_task_arg_for_an_admin_only_setting_is_refused() -> None:
    with pytest.raises(TaskError) as caught:
        parse_settings(Demo, {}, {"workers": 64}, plugin="demo")
    assert str(caught.value) == ("task arg 'workers': not a task setting; only the admin "
                                 "sets it, in [plugins.demo]")


def test_a_bad_task_arg_is_a_task_error_naming_the_arg() -> None:
    with pytest.raises(TaskError) as caught:
        parse_settings(Demo, {}, {"period": -1}, plugin="demo")
    assert str(caught.value) == "task arg 'period': must be positive, got -1"


def test_a_rule_across_settings_names_where_it_came_from() -> None:
    with pytest.raises(ConfigError, match=r"^plugins.demo: strict needs mode"):
        parse_settings(Demo, {"strict": True, "mode": "text"}, plugin="demo")
    with pytest.raises(TaskError, match=r"^task args and \[plugins.demo\]: strict needs"):
        parse_settings(Demo, {"strict": True}, {"mode": "text"}, plugin="demo")


def test_the_declaration_is_described_for_check_and_json() -> None:
    settings = declared(Demo)
    assert list(settings) == [f.name for f in dataclasses.fields(Demo)]
    period = settings["period"].as_json()
    assert period == {"name": "period", "type": "number of seconds", "default": 30.0,
                      "description": "seconds", "minimum": None, "above": 0,
                      "maximum": None, "unit": "seconds", "task_arg": True, "choices": None}
    assert settings["names"].type_name == "list of strings"
    assert settings["limit"].type_name == "integer or none"
    assert settings["mode"].bounds == "one of 'auto', 'json', 'text'"


def test_a_field_without_setting_or_of_an_odd_type_is_refused() -> None:
    @dataclass(frozen=True)
    class Plain:
        x: int = 3

    @dataclass(frozen=True)
    class Odd:
        x: set[str] = setting(set(), "a set")

    with pytest.raises(TypeError, match="Plain.x: not declared with setting()"):
        declared(Plain)
    with pytest.raises(TypeError, match="Odd.x: .* is not a setting type"):
        declared(Odd)
    with pytest.raises(TypeError, match="expected a dataclass"):
        declared(["x"])


# -- through the plugin set: unknown keys once, values by the same rules --------------------

def plugin(settings: Any) -> types.SimpleNamespace:
    @hookimpl
    def emworker_plugin_settings() -> Any:
        return settings
    return types.SimpleNamespace(emworker_plugin_settings=emworker_plugin_settings)


def config_file(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path, env={})


def test_unknown_keys_and_bad_values_are_reported_once_with_file_and_key(
        tmp_path: Path) -> None:
    plugins = PluginSet()
    plugins.add(plugin(Demo), "demo")
    config = config_file(tmp_path, "[plugins.demo]\nworkrs = 2\nperiod = 0\n")
    path = tmp_path / "config.toml"
    assert plugin_table_problems(config, plugins) == [
        f"{path}: plugins.demo.period: must be positive, got 0",
        f"{path}: plugins.demo.workrs: unknown key (did you mean 'workers'?); demo reads: "
        "limit, mode, name, names, period, strict, table, workers"]


def test_the_older_mapping_still_loads_its_keys_checked_not_its_values(tmp_path: Path) -> None:
    plugins = PluginSet()
    plugins.add(plugin({"prefix": "put before every message"}), "echo")
    config = config_file(tmp_path, "[plugins.echo]\nprefix = 3\nprefx = 1\n")
    [problem] = plugin_table_problems(config, plugins)
    assert "plugins.echo.prefx: unknown key (did you mean 'prefix'?)" in problem
    assert plugins.declared_settings("echo") == {"prefix": "put before every message"}
    assert settings_line(plugins, "echo") == ("[plugins.echo] settings:\n"
                                              "    prefix (any): put before every message")


def test_check_lists_each_setting_with_type_default_and_description() -> None:
    plugins = PluginSet()
    plugins.add(plugin(Demo), "demo")
    lines = settings_line(plugins, "demo").splitlines()
    assert lines[0] == "[plugins.demo] settings:"
    assert "    workers (integer = 4, at least 1, at most 64): a whole number" in lines
    assert "    period (number of seconds = 30.0, more than 0, task arg too): seconds" in lines


# -- in a handler: a bad task arg is that task's error and done -----------------------------

class DemoHandler(TaskHandler):
    def setup(self) -> None:
        self.settings = self.read_settings(Demo)

    def process(self) -> None:
        self.done(period=self.settings.period, workers=self.settings.workers)


def test_the_handler_gets_typed_settings_task_arg_over_table() -> None:
    run = run_handler(DemoHandler, {"name": "demo", "args": {"period": 2}},
                      config={"workers": 8, "period": 60}, iterations=None)
    assert run.outcome is Outcome.DONE and run.last == {"period": 2.0, "workers": 8, "done": 1}


def test_a_bad_task_arg_ends_only_that_task_with_error_and_done() -> None:
    run = run_handler(DemoHandler, {"name": "demo", "args": {"workers": 2}}, iterations=None)
    assert run.outcome is Outcome.FAILED and run.last["done"] == 1
    assert run.last["error"] == ("task arg 'workers': not a task setting; only the admin "
                                 "sets it, in [plugins.test]")  # the kit's plugin name
    assert "stack" not in run.last  # a refusal in words, not a crash
