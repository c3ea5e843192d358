"""The command line's own pieces: the error boundary, escaping, lazy handlers and imports,
plugin settings declared and checked, the local run's verdict."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from emhub_worker_core import TaskHandler, hookimpl
from emhub_worker_core.cli import main, plugins_cmd, report
from emhub_worker_core.contract.errors import ConfigError, PluginError, UsageError
from emhub_worker_core.contract.task import Task
from emhub_worker_core.host.lazy_handlers import LazyFactory
from emhub_worker_core.host.main_loop import Host
from emhub_worker_core.host.plugin_loader import STATUS_FAILED, PluginInfo, PluginSet
from emhub_worker_core.host.plugin_tables import plugin_table_problems
from emhub_worker_core.ops import exit_codes
from emhub_worker_core.ops.config import load_config
from tests.test_host import MemorySource


class Quiet(TaskHandler):
    """A handler for lazy-loading tests: done at once."""

    def process(self) -> None:
        self.done(ok=1)


def plugin_module(register_calls: list[tuple[Any, ...]],
                  settings: Any = None) -> types.SimpleNamespace:
    @hookimpl
    def emworker_register_tasks(register: Any) -> None:
        for args in register_calls:
            register(*args)

    namespace = types.SimpleNamespace(emworker_register_tasks=emworker_register_tasks)
    if settings is not None:
        @hookimpl
        def emworker_plugin_settings() -> Any:
            if isinstance(settings, Exception):
                raise settings
            return settings
        namespace.emworker_plugin_settings = emworker_plugin_settings
    return namespace


# -- the error boundary ------------------------------------------------------------------

@pytest.mark.parametrize("exc, code", [
    (UsageError("x"), exit_codes.USAGE), (ConfigError("x"), exit_codes.CONFIG),
    (PluginError("x"), exit_codes.PLUGINS), (KeyboardInterrupt(), exit_codes.FORCED),
    (FileNotFoundError(2, "No such file or directory", "/x"), exit_codes.ERROR),
    (RuntimeError("bug"), exit_codes.ERROR)])
def test_report_maps_each_exception_to_its_code(exc: BaseException, code: int,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert report(exc) == code
    err = capsys.readouterr().err
    assert err.count("emworker: ") == 1


def test_a_users_mistake_is_one_line_a_bug_has_its_traceback(
        capsys: pytest.CaptureFixture[str]) -> None:
    report(FileNotFoundError(2, "No such file or directory", "/data/x"))
    assert capsys.readouterr().err == "emworker: error: /data/x: No such file or directory\n"
    try:
        raise RuntimeError("a bug")
    except RuntimeError as exc:
        report(exc)
    err = capsys.readouterr().err
    assert err.startswith("emworker: error: RuntimeError: a bug\n") and "Traceback" in err


def test_main_catches_what_a_command_raises(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    def broken(args: argparse.Namespace) -> int:
        raise ConfigError("c.toml: worker.x: bad")

    monkeypatch.setattr(plugins_cmd, "cmd_list", broken)
    assert main(["plugins", "list"]) == exit_codes.CONFIG  # set_defaults read cmd_list anew
    assert capsys.readouterr().err == "emworker: error: c.toml: worker.x: bad\n"


# -- rich markup in text we did not write ------------------------------------------------

@pytest.mark.parametrize("terminal", [True, False], ids=["rich table", "plain columns"])
def test_plugins_list_prints_brackets_as_written(terminal: bool,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    plugins = PluginSet()
    plugins.infos["[bold]odd[/bold]"] = PluginInfo(
        "[bold]odd[/bold]", "dist-[x]", "1.0", status=STATUS_FAILED,
        error="KeyError: [/oops] in [red]config[/red]")
    monkeypatch.setattr(plugins_cmd, "prepare", lambda args, **_: load_config(None, env={}))
    monkeypatch.setattr(plugins_cmd, "plugins_from",
                        lambda config, **_: (plugins, plugins.router()))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: terminal)
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setenv("TERM", "dumb")  # rich: no colour codes between the characters
    assert plugins_cmd.cmd_list(argparse.Namespace(json=False, config=None,
                                                   log_level=None)) == 0
    out = capsys.readouterr().out
    assert ("┃" in out) is terminal
    if terminal:  # the table folds long cells: compare the cells' text, read row by row
        error_cells = [line.split("│")[-2].strip() for line in out.splitlines()
                       if line.startswith("│")]
        assert "".join(error_cells).replace(" ", "") == "KeyError:[/oops]in[red]config[/red]"
    else:
        assert "KeyError: [/oops] in [red]config[/red]" in out, out
    assert "[bold]odd[/bold]" in out and "dist-[x]" in out


def test_status_table_prints_task_text_as_written(tmp_path: Path) -> None:
    state = {"pid": __import__("os").getpid(), "tasks": [
        {"id": "[red]1[/]", "name": "frames[/x]", "plugin": "p", "started": 0,
         "last_event": {"[b]k": 1}}, "not a task", {"id": 2}]}
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "c.toml").write_text(f'[worker]\nstate_dir = "{tmp_path}"\n')
    proc = subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config",
                           str(tmp_path / "c.toml"), "status"], capture_output=True, text=True,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == exit_codes.OK, proc.stderr
    assert "[red]1[/]" in proc.stdout and "frames[/x]" in proc.stdout
    assert "[b]k" in proc.stdout and "Traceback" not in proc.stderr


def test_status_off_a_terminal_cuts_no_value(tmp_path: Path) -> None:
    import time

    now = time.time()
    long_id = "1796297911-5c1e0f3a-9d2b-4c8e-a7f1-3b6d2e9c0a11"
    state = {"pid": __import__("os").getpid(), "ready": now, "last_poll": now, "tasks": [
        {"id": long_id, "name": "frames-monitor", "plugin": "frames-monitor",
         "started": now - 7200, "last_event_time": now - 3,
         "last_event": {"maxlen": 2, "root": 1, "reason": 1, "entries": 1, "usage": 1,
                        "elapsed": 1, "problems": 1}}]}
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "c.toml").write_text(f'[worker]\nstate_dir = "{tmp_path}"\n')
    proc = subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config",
                           str(tmp_path / "c.toml"), "status"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"})  # a pipe, no COLUMNS: 80 wide
    assert proc.returncode == exit_codes.OK, proc.stderr
    assert "…" not in proc.stdout, proc.stdout
    row = next(line for line in proc.stdout.splitlines() if long_id in line)
    assert row.count("frames-monitor") == 2
    assert "maxlen, root, reason, entries, usage, elapsed, problems" in row


# -- lazy handlers -----------------------------------------------------------------------

def test_a_handler_string_is_imported_only_when_a_task_needs_it() -> None:
    plugins = PluginSet()
    info = plugins.add(plugin_module([("quiet", "tests.test_cli_core:Quiet")]), "lazy")
    assert info.status == "ok" and info.tasks == ["quiet"]
    claim = plugins.router().routes["quiet"]
    assert isinstance(claim.factory, LazyFactory)
    source = MemorySource([Task("t1", "quiet", {})])
    assert Host(plugins.router()).run(source) == exit_codes.OK
    assert source.of("t1")[-1]["done"] == 1


def test_a_handler_string_that_cannot_be_imported_fails_only_its_task() -> None:
    plugins = PluginSet()
    plugins.add(plugin_module([("ghost", "no_such_module.handler:Ghost"),
                               ("quiet", "tests.test_cli_core:Quiet")]), "lazy")
    source = MemorySource([Task("t1", "ghost", {}), Task("t2", "quiet", {})])
    code = Host(plugins.router()).run(source)
    assert code == exit_codes.TASKS_FAILED
    assert "No module named 'no_such_module'" in str(source.of("t1")[-1]["error"])
    assert source.of("t2")[-1]["done"] == 1


@pytest.mark.parametrize("spec", ["handler", "pkg.mod:", ":Attr", "pkg mod:Attr", "a:b:c"])
def test_a_malformed_handler_string_fails_registration(spec: str) -> None:
    info = PluginSet().add(plugin_module([("x", spec)]), "bad")
    assert info.status == STATUS_FAILED
    assert "'package.module:Attribute'" in (info.error or "")


def test_listing_plugins_imports_no_handler_module_and_json_needs_no_rich() -> None:
    code = ("import sys, io, contextlib\n"
            "from emhub_worker_core.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['plugins', 'list', '--json'])\n"
            "print('\\n'.join(sorted(sys.modules)))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert proc.returncode == 0, proc.stderr
    modules = set(proc.stdout.split())
    assert "emworker_frames_monitor.plugin" in modules  # the plugins were loaded ...
    heavy = {m for m in modules if m.endswith(".handler") or m.startswith("rich")
             or m in ("emhub_worker_core.host.main_loop", "requests", "subprocess",
                      "packaging.requirements")}
    assert heavy == set(), heavy  # ... and nothing a listing does not need


def test_version_imports_next_to_nothing() -> None:
    code = ("import sys\nfrom emhub_worker_core.cli import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "print('\\n'.join(sorted(sys.modules)))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    modules = set(proc.stdout.split())
    assert "emworker 0.1.0" in proc.stdout
    assert not {"pluggy", "rich", "emhub_worker_core.ops.config",
                "emhub_worker_core.contract.handler"} & modules


# -- plugin settings ---------------------------------------------------------------------

def config_with(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_config(path, env={})


def test_undeclared_keys_and_unknown_plugins_are_named_with_file_and_key(
        tmp_path: Path) -> None:
    plugins = PluginSet()
    plugins.add(plugin_module([("echo", Quiet)], settings={"prefix": "before messages"}),
                "echo")
    config = config_with(tmp_path, '[plugins.echo]\nprefix = "a"\nprefx = "b"\n'
                                   '[plugins.ecoh]\nprefix = "c"\n')
    path = tmp_path / "c.toml"
    assert plugin_table_problems(config, plugins) == [
        f"{path}: plugins.echo.prefx: unknown key (did you mean 'prefix'?); "
        f"echo reads: prefix",
        f"{path}: [plugins.ecoh]: no plugin 'ecoh' is installed (did you mean 'echo'?); "
        f"installed: echo"]


def test_a_plugin_declaring_nothing_is_not_checked_and_a_broken_declaration_is_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plugins = PluginSet()
    plugins.add(plugin_module([("a", Quiet)]), "silent")
    plugins.add(plugin_module([("b", Quiet)], settings=RuntimeError("boom")), "broken")
    plugins.add(plugin_module([("c", Quiet)], settings=["not", "a", "mapping"]), "odd")
    config = config_with(tmp_path, "[plugins.silent]\nanything = 1\n[plugins.broken]\n"
                                   "x = 1\n[plugins.odd]\ny = 2\n")
    assert plugin_table_problems(config, plugins) == []
    assert "broken: emworker_plugin_settings failed" in caplog.text
    assert "odd: emworker_plugin_settings failed" in caplog.text
    assert all(plugins.infos[n].status == "ok" for n in ("silent", "broken", "odd"))


# -- the local run's verdict --------------------------------------------------------------

def test_a_local_task_that_sent_only_errors_fails_the_run(tmp_path: Path) -> None:
    from emhub_worker_core.sources.local import LocalTaskSource

    tasks = tmp_path / "t.toml"
    tasks.write_text('[[tasks]]\nname = "a"\n[[tasks]]\nname = "b"\n')
    with open(tmp_path / "events.jsonl", "w") as events:
        source = LocalTaskSource(tasks, events=events)
        a, b = source.poll(__import__("threading").Event())
        source.send(a, {"error": "x"})
        source.send(a, {"done": 1})
        source.send(b, {"error": "y"})
        source.send(b, {"files": 3})
        assert source.rejected == 1  # a: errors and a bare done; b produced a result
        source.send(a, {"files": 1})
        assert source.rejected == 0
