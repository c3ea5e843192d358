"""Tier 3: real pip-installed plugins, driven through the ``emworker`` command."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

EMWORKER = [sys.executable, "-m", "emhub_worker_core"]


def emworker(env: dict[str, str], *args: str, timeout: float = 60
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EMWORKER, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_plugins_list_shows_example_ok_and_broken_failed(worker_env: dict[str, str]) -> None:
    result = emworker(worker_env, "plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    echo_settings = plugins["echo"].pop("settings")
    assert plugins["echo"] == {"name": "echo", "distribution": "emworker-echo",
                               "version": "0.1.0", "tasks": ["echo"], "status": "ok",
                               "error": None}
    assert [(s["name"], s["type"], s["default"]) for s in echo_settings] == [
        ("prefix", "string", ""), ("message", "string", "hello"), ("repeat", "integer", 3),
        ("interval", "number of seconds", 1.0)]
    broken = plugins["broken"]
    assert broken["status"] == "failed" and broken["distribution"] == "emworker-broken"
    assert "No module named 'emworker_missing_dependency'" in broken["error"]
    assert broken["settings"] is None  # not loaded: nothing declared
    assert all(set(p) - {"settings"} == {"name", "distribution", "version", "tasks", "status",
                                         "error"} for p in plugins.values())


def test_plugins_list_table_never_crashes(worker_env: dict[str, str]) -> None:
    result = emworker(worker_env, "plugins", "list")
    assert result.returncode == 0 and "broken" in result.stdout and "failed" in result.stdout


def test_local_run_with_broken_plugin_beside(worker_env: dict[str, str], tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.toml"
    tasks.write_text('[[tasks]]\nname = "echo"\nid = "t1"\n'
                     'args = { message = "hi", repeat = 2, interval = 0 }\n'
                     '[[tasks]]\nname = "nobody-handles-this"\nargs = {}\n'
                     '[[tasks]]\nargs = {}\n')
    events_path = tmp_path / "events.jsonl"
    config = tmp_path / "config.toml"
    config.write_text('[worker]\nmin_interval = 0\n[plugins.echo]\nprefix = "> "\n')
    result = emworker(worker_env, "--config", str(config), "run", "--local", str(tasks),
                      "--events", str(events_path))
    assert result.returncode == 6, result.stderr  # a task without handler: TASKS_FAILED
    lines = [json.loads(line) for line in events_path.read_text().splitlines()]
    assert all(set(line) == {"time", "task_id", "task", "plugin", "event"} for line in lines)
    plugins = {line["task_id"]: line["plugin"] for line in lines}
    # the plugin that handled each task, null where none did
    assert plugins == {"t1": "echo", "local-2": None, "local-3": None}
    echo = [line["event"] for line in lines if line["task_id"] == "t1"]
    assert echo == [{"message": "> hi", "count": 1}, {"message": "> hi", "count": 2},
                    {"count": 2, "done": 1}]
    others = {line["task_id"]: line["event"] for line in lines if line["task_id"] != "t1"}
    assert others["local-2"] == {"error": "There is no handler for task nobody-handles-this",
                                 "done": 1}
    assert "malformed task" in others["local-3"]["error"]


def test_events_default_to_stdout(worker_env: dict[str, str], tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.toml"
    tasks.write_text('[[tasks]]\nname = "echo"\nargs = { repeat = 1, interval = 0 }\n')
    result = emworker(worker_env, "run", "--local", str(tasks))
    assert result.returncode == 0, result.stderr
    assert [json.loads(x)["event"] for x in result.stdout.splitlines()][-1] == \
        {"count": 1, "done": 1}


def test_strict_mode_refuses_to_start_with_a_failed_plugin(worker_env: dict[str, str],
                                                           tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.toml"
    tasks.write_text('[[tasks]]\nname = "echo"\nargs = {}\n')
    result = emworker({**worker_env, "EMWORKER_STRICT_PLUGINS": "1"}, "run", "--local",
                      str(tasks))
    assert result.returncode == 5 and "broken" in result.stderr


def test_disable_by_environment(worker_env: dict[str, str]) -> None:
    result = emworker({**worker_env, "EMWORKER_DISABLE_PLUGINS": "echo,broken"},
                      "plugins", "list", "--json")
    statuses = {p["name"]: p["status"] for p in json.loads(result.stdout)}
    assert statuses["echo"] == statuses["broken"] == "disabled"


def test_config_errors_exit_3_naming_the_key(worker_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[worker]\nmax_tasks = "lots"\n')
    result = emworker(worker_env, "--config", str(config), "plugins", "list")
    assert result.returncode == 3 and "worker.max_tasks" in result.stderr


def test_run_without_emhub_or_local_is_a_config_error(worker_env: dict[str, str]) -> None:
    result = emworker(worker_env, "run")
    assert result.returncode == 3 and "--local" in result.stderr


def run_then_signal(env: dict[str, str], tmp_path: Path, signum: int) -> tuple[int, float, list]:
    tasks = tmp_path / "tasks.toml"
    tasks.write_text('[[tasks]]\nname = "echo"\nid = "long"\n'
                     'args = { repeat = 1000, interval = 30 }\n')
    events_path = tmp_path / "events.jsonl"
    proc = subprocess.Popen([*EMWORKER, "run", "--local", str(tasks), "--events",
                             str(events_path)], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                events_path.exists() and events_path.read_text().strip()):
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(signum)
        code = proc.wait(timeout=10)  # watchdog only; the interval alone is 30 s
        elapsed = time.monotonic() - sent
    finally:
        proc.kill()
    events = [json.loads(line)["event"] for line in events_path.read_text().splitlines()]
    return code, elapsed, events


def test_sigterm_stops_a_local_run_promptly(worker_env: dict[str, str], tmp_path: Path) -> None:
    code, elapsed, events = run_then_signal(worker_env, tmp_path, signal.SIGTERM)
    assert code == 0
    assert events[0] == {"message": "hello", "count": 1}
    assert events[-1]["interrupted"] == 1 and not any("done" in e for e in events)
    print(f"stopped {elapsed:.3f} s after SIGTERM")


def test_sigint_stops_a_local_run_promptly(worker_env: dict[str, str], tmp_path: Path) -> None:
    code, elapsed, events = run_then_signal(worker_env, tmp_path, signal.SIGINT)
    assert code == 0 and events[-1]["interrupted"] == 1
    print(f"stopped {elapsed:.3f} s after SIGINT")


def test_config_option_also_after_the_command(worker_env: dict[str, str],
                                              tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[plugins]\ndisable = ["broken"]\n')
    result = emworker(worker_env, "plugins", "list", "--json", "--config", str(config))
    statuses = {p["name"]: p["status"] for p in json.loads(result.stdout)}
    assert result.returncode == 0 and statuses["broken"] == "disabled"
