"""End to end: `emworker run --local` with fake bqueues/bjobs/bhosts executables on PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from emworker_cluster_lsf.testkit import write_fake_commands

DATA = Path(__file__).parent / "data"


def local_run(tmp_path: Path, args: str, path: str, timeout: int = 20,
              exit_code: int = 0) -> list[dict[str, Any]]:
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(f'[[tasks]]\nname = "cluster-lsf"\nargs = {{ {args} }}\n')
    config = tmp_path / "config.toml"
    # min_interval 0: the core's 5 s floor between steps has tests of its own
    config.write_text(f'[worker]\nstate_dir = "{tmp_path / "state"}"\nmin_interval = 0\n\n'
                      f'[plugins.cluster-lsf]\ntimeout = {timeout}\n')
    out = tmp_path / "events.jsonl"
    env = {**os.environ, "EMHUB_SERVER_URL": "", "PATH": path}
    proc = subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config", str(config),
                           "run", "--local", str(tasks), "--iterations", "2", "--events",
                           str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == exit_code, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["task"] for r in records] == ["cluster-lsf", "cluster-lsf"]
    return [r["event"] for r in records]


def test_local_run_reads_fake_lsf(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    write_fake_commands(DATA / "busy.json", bin_dir)
    events = local_run(tmp_path, 'period = 0, pattern = "cryo_gpu"',
                       f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    for event in events:
        assert "error" not in event and event["maxlen"] == 2
        assert json.loads(event["queues"]) == {
            "gpu01": {"status": "ok", "max": 64, "run": 22, "closed": False,
                      "users": {"alice": [{"jobid": "5001", "cores": 16}],
                                "bob": [{"jobid": "5002", "cores": 4}]}},
            "gpu02": {"status": "closed_Full", "max": 64, "run": 64, "closed": True,
                      "reason": "all job slots are in use",
                      "users": {"bob": [{"jobid": "5002", "cores": 2}]}},
            "gpu03": {"status": "unavail", "max": 64, "run": 0, "closed": True,
                      "reason": "host down or LIM and sbatchd unreachable", "users": {}},
            "gpu05": {"status": "unreach", "max": 64, "run": 0, "closed": True,
                      "reason": "sbatchd unreachable", "users": {}},
            "gpu04": {"status": "ok", "max": 32, "run": 1, "closed": False,
                      "users": {"bob": [{"jobid": "5003", "cores": 1}]}}}
        assert json.loads(event["pending"]) == {"cryo_gpu": 1}


def test_local_run_without_lsf_sends_errors_and_exits_6(tmp_path: Path) -> None:
    empty_bin = tmp_path / "nobin"
    empty_bin.mkdir()
    # PATH holds one empty directory: no LSF command can be found (python is run by path).
    # A local run whose task sent only errors failed, like a task that raised: exit 6.
    events = local_run(tmp_path, "period = 0", f"{empty_bin}", exit_code=6)
    assert [e["error"] for e in events] == [
        "bqueues -o queue_name status -json: command not found: bqueues"] * 2


def test_local_run_a_hanging_command_is_killed_and_reported(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    hanging = bin_dir / "bqueues"
    hanging.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    hanging.chmod(0o755)
    events = local_run(tmp_path, "period = 0", str(bin_dir), timeout=1, exit_code=6)
    assert [e["error"] for e in events] == [
        "bqueues -o queue_name status -json: timed out after 1 s"] * 2
