"""``emworker status``: its verdict while connecting, and the state file it reads."""

from __future__ import annotations

import json
import time
from pathlib import Path

from emhub_worker_core.ops.state_file import state_dir_for


def test_status_says_connecting_while_emhub_is_down_since_start_up() -> None:
    import os

    from emhub_worker_core.cli.status_cmd import WARNING, judge

    state = {"pid": os.getpid(), "ready": None, "phase": "connecting",
             "connection": {"state": "failing", "since": time.time() - 30, "attempts": 5,
                            "last_error": "connect: connection refused"}}
    code, verdict = judge(state, stale_after=180)
    assert code == WARNING
    assert "connecting to EMhub for 30 s (5 failed call(s))" in verdict
    assert "connection refused" in verdict


def test_status_finds_the_state_file_of_its_own_worker_name(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from emhub_worker_core.ops.state_file import write_state

    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMHUB_", "EMWORKER_"))}
    env.update(XDG_STATE_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path))
    env.pop("STATE_DIRECTORY", None)
    for name in ("krios1.test", "krios2.test"):  # two workers, one machine, no state_dir
        (tmp_path / f"{name}.toml").write_text(f'[worker]\nname = "{name}"\n')
        write_state(state_dir_for(None, name, env),
                    {"pid": os.getpid(), "worker": name, "ready": time.time(),
                     "last_poll": time.time(), "tasks": []})
    for name in ("krios1.test", "krios2.test"):
        result = subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config",
                                 str(tmp_path / f"{name}.toml"), "status", "--json"],
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["state"]["worker"] == name
