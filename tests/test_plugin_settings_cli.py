"""Declared settings through a real ``emworker``: a bad task arg fails that task only, a bad
table value stops ``run`` before any task, ``check`` and ``plugins list --json`` show them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ENV = {**os.environ, "EMHUB_SERVER_URL": ""}


def emworker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "emhub_worker_core", *args], env=ENV,
                          capture_output=True, text=True, timeout=120)


def setup(tmp_path: Path, table: str) -> tuple[Path, Path]:
    frames = tmp_path / "frames"
    (frames / "S1").mkdir(parents=True)
    config = tmp_path / "config.toml"
    config.write_text(f'[worker]\nstate_dir = "{tmp_path / "state"}"\nmin_interval = 0\n\n'
                      f'[plugins.frames-monitor]\nroot = "{frames}"\n{table}')
    tasks = tmp_path / "tasks.toml"
    tasks.write_text('[[tasks]]\nid = "bad-period"\nname = "frames"\n'
                     'args = { period = "soon" }\n\n'
                     '[[tasks]]\nid = "admin-only"\nname = "frames"\n'
                     'args = { min_period = 0 }\n\n'
                     '[[tasks]]\nid = "good"\nname = "frames"\nargs = { period = 0.1 }\n')
    return config, tasks


def test_a_bad_task_arg_fails_that_task_and_the_others_run(tmp_path: Path) -> None:
    config, tasks = setup(tmp_path, "")
    out = tmp_path / "events.jsonl"
    proc = emworker("--config", str(config), "run", "--local", str(tasks), "--iterations", "1",
                    "--events", str(out))
    assert proc.returncode == 6, proc.stderr  # a task failed
    events: dict[str, list[dict[str, Any]]] = {}
    for line in out.read_text().splitlines():
        record = json.loads(line)
        events.setdefault(record["task_id"], []).append(record["event"])
    assert events["bad-period"] == [{"error": "task arg 'period': must be a number of "
                                              "seconds, got 'soon'", "done": 1}]
    assert events["admin-only"] == [{"error": "task arg 'min_period': not a task setting; "
                                              "only the admin sets it, in "
                                              "[plugins.frames-monitor]", "done": 1}]
    [good] = events["good"]
    assert "error" not in good and "done" not in good and "S1" in good["entries"]


def test_a_bad_table_value_stops_run_before_any_task_naming_file_and_key(
        tmp_path: Path) -> None:
    config, tasks = setup(tmp_path, "min_period = -1\nscan_thread = 2\n")
    proc = emworker("--config", str(config), "run", "--local", str(tasks), "--iterations", "1")
    assert proc.returncode == 3 and proc.stdout == ""
    assert f"{config}: plugins.frames-monitor.min_period: must be at least 0, got -1" \
        in proc.stderr
    assert f"{config}: plugins.frames-monitor.scan_thread: unknown key (did you mean " \
        "'scan_threads'?)" in proc.stderr
    check = emworker("--config", str(config), "check", "--no-emhub")
    assert check.returncode == 3
    assert "FAIL plugin settings: " \
        f"{config}: plugins.frames-monitor.min_period: must be at least 0" in check.stdout
    assert "    usage_step (number = 0.001, at least 0, at most 1): fraction" in check.stdout


def test_plugins_list_json_shows_each_setting_with_type_and_default() -> None:
    proc = emworker("plugins", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    listing = {plugin["name"]: plugin for plugin in json.loads(proc.stdout)}
    transfer = {s["name"]: s for s in listing["session-transfer"]["settings"]}
    assert transfer["workers"] == {"name": "workers", "type": "integer", "default": 4,
                                   "description": "copies running at once", "minimum": 1,
                                   "above": None, "maximum": None, "unit": None,
                                   "task_arg": False, "choices": None}
    assert transfer["verify"]["choices"] == ["storage", "reread", "size"]
    slurm = {s["name"]: s for s in listing["cluster-slurm"]["settings"]}
    assert slurm["period"]["task_arg"] and not slurm["timeout"]["task_arg"]
