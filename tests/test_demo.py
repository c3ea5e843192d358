"""The README's first command: the demo's tasks run to their end without an error event."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow


def test_the_demo_runs_every_task_without_an_error(tmp_path: Path,
                                                   worker_env: dict[str, str]) -> None:
    demo = tmp_path / "demo"
    subprocess.run([sys.executable, str(REPO / "examples" / "make_demo.py"), str(demo)],
                   check=True, capture_output=True)
    events = demo / "events.jsonl"
    proc = subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config",
                           str(demo / "config.toml"), "run", "--local", str(demo / "tasks.toml"),
                           "--iterations", "16", "--events", str(events)],
                          env=worker_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in events.read_text().splitlines()]
    by_task: dict[str, list[dict[str, object]]] = {}
    for record in records:
        if "task_id" in record:
            by_task.setdefault(str(record["task_id"]), []).append(record["event"])
    assert set(by_task) == {"demo-frames", "demo-transfer", "demo-echo"}
    assert not [e for evs in by_task.values() for e in evs if "error" in e]
    assert by_task["demo-transfer"][-1]["done"] == 1 and by_task["demo-echo"][-1]["done"] == 1
    assert "entries" in by_task["demo-frames"][-1]
