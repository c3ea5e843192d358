"""Guard rails for plugins: register() arguments, non-string actions, the specs hook."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from emhub_worker_core import TaskHandler, hookimpl
from emhub_worker_core.contract.errors import TaskError
from emhub_worker_core.contract.task import Task
from emhub_worker_core.host.plugin_loader import PluginSet

from .conftest import REPO, pip_install_target


class Noop(TaskHandler):
    def process(self) -> None:
        self.done()


def registering(**kwargs: Any) -> types.SimpleNamespace:
    @hookimpl
    def emworker_register_tasks(register: Any) -> None:
        register("frames-monitor", Noop, **kwargs)
    return types.SimpleNamespace(emworker_register_tasks=emworker_register_tasks)


def specs_plugin(result: Any) -> types.SimpleNamespace:
    @hookimpl
    def emworker_worker_specs() -> Any:
        if isinstance(result, BaseException):
            raise result
        return result
    return types.SimpleNamespace(emworker_worker_specs=emworker_worker_specs)


def test_a_string_of_aliases_is_an_error_not_letters() -> None:
    plugins = PluginSet()
    info = plugins.add(registering(aliases="xy"), "frames")
    assert info.status == "failed"
    assert info.error is not None and "not the string 'xy'" in info.error
    assert "aliases=['xy']" in info.error
    assert plugins.claims == []  # neither 'x' nor 'y' was registered


def test_aliases_that_are_not_a_list_are_an_error() -> None:
    info = PluginSet().add(registering(aliases=5), "frames")
    assert info.status == "failed" and "got int" in (info.error or "")


def test_a_list_of_aliases_still_works() -> None:
    info = PluginSet().add(registering(aliases=("frames",)), "frames")
    assert info.status == "ok" and info.tasks == ["frames", "frames-monitor"]


@pytest.mark.parametrize("action", [5, "", ["transfer"]])
def test_a_non_string_action_in_register_is_named_as_itself(action: Any) -> None:
    info = PluginSet().add(registering(action=action), "frames")
    assert info.status == "failed"
    assert f"got {action!r}" in (info.error or "")


@pytest.mark.parametrize("given, shown", [(5, "5"), (["transfer"], "['transfer']"),
                                          ({"a": 1}, "{'a': 1}"), (None, "None")])
def test_a_task_with_a_non_string_action_is_named_as_itself(given: Any, shown: str) -> None:
    plugins = PluginSet()
    plugins.add(registering(action="transfer"), "transfer")
    with pytest.raises(TaskError) as caught:
        plugins.router().resolve(Task("1-0", "frames-monitor", {"action": given}))
    assert str(caught.value).startswith(f"Unknown action {shown} for task frames-monitor")


def test_worker_specs_skip_a_plugin_that_raises_or_returns_junk(
        caplog: pytest.LogCaptureFixture) -> None:
    plugins = PluginSet()
    plugins.add(specs_plugin(RuntimeError("sinfo missing")), "a-raises")
    plugins.add(specs_plugin(["junk"]), "b-junk")
    plugins.add(specs_plugin({"c-slurm": "22.05", "c-odd": Path("/x"), 1: float("nan")}),
                "c-good")
    plugins.add(specs_plugin({"c-slurm": "other"}), "d-clash")
    plugins.add(specs_plugin(None), "e-none")
    with caplog.at_level(logging.WARNING, "emworker.plugins"):
        specs = plugins.worker_specs()
    assert specs == {"c-slurm": "22.05", "c-odd": "/x", "1": None}
    json.dumps(specs, allow_nan=False)
    text = caplog.text
    assert "a-raises: emworker_worker_specs failed" in text and "sinfo missing" in text
    assert "b-junk: emworker_worker_specs returned list, not a dict" in text
    assert "c-good and d-clash both set worker spec 'c-slurm'" in text


@pytest.fixture(scope="module")
def bad_specs_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("bad-specs-site")
    pip_install_target(target, REPO / "contrib" / "echo-plugin",
                       REPO / "tests" / "plugins_fixture" / "bad-specs-plugin")
    return target


def test_emworker_run_survives_plugins_with_bad_specs(bad_specs_site: Path, tmp_path: Path,
                                                      worker_env: dict[str, str]) -> None:
    env = {**worker_env, "PYTHONPATH": f"{bad_specs_site}:{REPO}"}
    tasks = tmp_path / "tasks.toml"
    tasks.write_text('[[tasks]]\nname = "echo"\nid = "t1"\nargs = { message = "hi", repeat = 1 }\n')
    events = tmp_path / "events.jsonl"
    result = subprocess.run([sys.executable, "-m", "emhub_worker_core", "run", "--local",
                             str(tasks), "--events", str(events)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "specs-raises: emworker_worker_specs failed" in result.stderr
    assert "scheduler not found" in result.stderr
    assert "specs-junk: emworker_worker_specs returned list" in result.stderr
    assert "Traceback" not in result.stderr
    sent = [json.loads(line)["event"] for line in events.read_text().splitlines()]
    assert sent[-1].get("done") == 1


class Exits(TaskHandler):
    def process(self) -> None:
        sys.exit(3)


def test_sys_exit_in_a_handler_fails_the_task_with_an_event() -> None:
    from emhub_worker_core.testing import run_handler
    run = run_handler(Exits, {"name": "t"})
    assert run.outcome.value == "failed"
    assert run.last["done"] == 1 and run.last["error"] == "SystemExit: 3"


def test_sys_exit_at_import_or_registration_sets_the_plugin_aside() -> None:
    from .test_plugins_memory import ref

    @hookimpl
    def emworker_register_tasks(register: Any) -> None:
        sys.exit("no licence")

    plugins = PluginSet()
    plugins.load_entry_points([ref("quits", SystemExit(1)), ref("echo", registering())])
    plugins.add(types.SimpleNamespace(emworker_register_tasks=emworker_register_tasks), "reg")
    infos = {i.name: i for i in plugins.listing()}
    assert infos["quits"].status == "failed" and "SystemExit" in (infos["quits"].error or "")
    assert infos["reg"].status == "failed" and "no licence" in (infos["reg"].error or "")
    assert infos["echo"].status == "ok"
