"""Every mistake a new admin makes gets one clear line and the documented exit code.

Each case runs the real ``emworker`` command in a subprocess with a clean environment.
The test asserts the exit code, that the line names what went wrong, that it is printed
once, and that no traceback follows. ``python tests/test_user_errors.py`` prints the
catalogue (case, exit code, the line) for the issue's closing note.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

EMWORKER = [sys.executable, "-m", "emhub_worker_core"]
TASK = '[[tasks]]\nname = "echo"\n'


@dataclass
class Case:
    name: str
    argv: list[str]                 # {tmp} is replaced by the case's folder
    code: int
    says: str                       # a fragment of the error line
    files: dict[str, str | bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    stream: str = "stderr"          # where the line is printed


def _dead_pid_state(tmp: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (tmp / "state").mkdir()
    (tmp / "state" / "state.json").write_text(json.dumps({"pid": int(proc.stdout)}))


STATE_CONFIG = '[worker]\nstate_dir = "{tmp}/state"\n'

CASES = [
    Case("config file missing", ["--config", "{tmp}/nope.toml", "plugins", "list"], 3,
         "nope.toml: configuration file not found"),
    Case("config is a folder", ["--config", "{tmp}", "plugins", "list"], 3,
         "is a folder, not a configuration file"),
    Case("config not text", ["--config", "{tmp}/c.toml", "plugins", "list"], 3,
         "not a text file", files={"c.toml": b"\xff\xfe\x00binary"}),
    Case("config invalid TOML", ["--config", "{tmp}/c.toml", "plugins", "list"], 3,
         "invalid TOML", files={"c.toml": "[worker\n"}),
    Case("config wrong type", ["--config", "{tmp}/c.toml", "plugins", "list"], 3,
         "worker.max_tasks: expected int, got 'many'",
         files={"c.toml": '[worker]\nmax_tasks = "many"\n'}),
    Case("config section not a table", ["--config", "{tmp}/c.toml", "run"], 3,
         "[worker] must be a table", files={"c.toml": 'worker = 3\n'}),
    Case("max_tasks 0", ["--config", "{tmp}/c.toml", "run"], 3,
         "c.toml: worker.max_tasks: must be at least 1, got 0",
         files={"c.toml": '[worker]\nmax_tasks = 0\n'}),
    Case("max_tasks 0 from the environment", ["plugins", "list"], 3,
         "env $EMWORKER_MAX_TASKS: worker.max_tasks: must be at least 1, got 0",
         env={"EMWORKER_MAX_TASKS": "0"}),
    Case("environment wrong type", ["plugins", "list"], 3,
         "$EMWORKER_MAX_TASKS: expected a number, got 'lots'",
         env={"EMWORKER_MAX_TASKS": "lots"}),
    Case("no command", [], 2, "the following arguments are required: COMMAND"),
    Case("unknown command", ["runn"], 2, "invalid choice: 'runn'"),
    Case("iterations 0", ["run", "--local", "{tmp}/t.toml", "--iterations", "0"], 2,
         "--iterations: must be at least 1, got 0", files={"t.toml": TASK}),
    Case("iterations not a number", ["run", "--iterations", "x"], 2,
         "--iterations: expected a whole number, got 'x'"),
    Case("events without local", ["run", "--events", "{tmp}/e.jsonl"], 2,
         "--events goes with --local"),
    Case("tasks file missing", ["run", "--local", "{tmp}/nope.toml"], 3,
         "nope.toml: tasks file not found"),
    Case("tasks file is a folder", ["run", "--local", "{tmp}"], 3,
         "is a folder, not a tasks file"),
    Case("tasks file invalid TOML", ["run", "--local", "{tmp}/t.toml"], 3, "invalid TOML",
         files={"t.toml": "[[tasks]\n"}),
    Case("events in a missing folder",
         ["run", "--local", "{tmp}/t.toml", "--events", "{tmp}/missing/e.jsonl"], 2,
         "does not exist", files={"t.toml": TASK}),
    Case("events is a folder", ["run", "--local", "{tmp}/t.toml", "--events", "{tmp}"], 2,
         "is a folder; give a file name", files={"t.toml": TASK}),
    Case("tasks file [[task]] typo", ["run", "--local", "{tmp}/t.toml"], 3,
         "task: unknown table or key (did you mean [[tasks]]?)",
         files={"t.toml": '[[task]]\nname = "echo"\n'}),
    Case("tasks file [emhub] typo", ["run", "--local", "{tmp}/t.toml"], 3,
         "emhub.sesions: unknown key", files={"t.toml": TASK + "[emhub]\nsesions = []\n"}),
    Case("tasks file duplicate ids", ["run", "--local", "{tmp}/t.toml"], 3,
         "tasks[2].id: 'a' is also the id of task #1",
         files={"t.toml": '[[tasks]]\nname = "echo"\nid = "a"\n'
                          '[[tasks]]\nname = "echo"\nid = "a"\n'}),
    Case("tasks file with no tasks", ["run", "--local", "{tmp}/t.toml"], 3,
         "no [[tasks]]: nothing to run", files={"t.toml": "# empty\n"}),
    Case("no EMhub configured", ["run"], 3, "no EMhub configured"),
    Case("password file missing", ["--config", "{tmp}/c.toml", "run"], 3,
         "emhub.password_file: cannot read /nonexistent/pw: No such file or directory",
         files={"c.toml": '[emhub]\nurl = "http://127.0.0.1:1"\nuser = "u"\n'
                          'password_file = "/nonexistent/pw"\n'}),
    Case("status: no state file", ["--config", "{tmp}/c.toml", "status"], 10,
         "no state file", files={"c.toml": STATE_CONFIG}, stream="stdout"),
    Case("status: corrupt state file", ["--config", "{tmp}/c.toml", "status"], 10,
         "the state file is corrupt (not JSON)", stream="stdout",
         files={"c.toml": STATE_CONFIG, "state/state.json": '{"pid": 1, "tas'}),
    Case("status: foreign state file", ["--config", "{tmp}/c.toml", "status"], 10,
         "not an emworker state file", stream="stdout",
         files={"c.toml": STATE_CONFIG, "state/state.json": '["a", "list"]'}),
    Case("status: state folder is a file", ["--config", "{tmp}/c.toml", "status"], 10,
         "cannot read the state file: Not a directory", stream="stdout",
         files={"c.toml": STATE_CONFIG, "state": "a file"}),
    Case("status: worker gone", ["--config", "{tmp}/c.toml", "status"], 9,
         "not running (pid", files={"c.toml": STATE_CONFIG}, setup=_dead_pid_state,
         stream="stdout"),
    Case("status: bad configuration", ["--config", "{tmp}/c.toml", "status"], 3,
         "invalid TOML", files={"c.toml": "[worker\n"}),
    Case("check: plugin table for no plugin", ["--config", "{tmp}/c.toml", "check",
                                               "--no-emhub"], 3,
         "c.toml: [plugins.frames-monitr]: no plugin 'frames-monitr' is installed "
         "(did you mean 'frames-monitor'?)", stream="stdout",
         files={"c.toml": '[plugins.frames-monitr]\nroot = "/data"\n'}),
    Case("check: unknown plugin key", ["--config", "{tmp}/c.toml", "check", "--no-emhub"],
         3, "c.toml: plugins.frames-monitor.perod: unknown key (did you mean 'period'?)",
         stream="stdout", files={"c.toml": '[plugins.frames-monitor]\nperod = 5\n'}),
    Case("check: unknown section", ["--config", "{tmp}/c.toml", "check", "--no-emhub"], 3,
         "c.toml: unknown section [wrker]", stream="stdout",
         files={"c.toml": '[wrker]\nname = "x"\n'}),
    Case("check: unknown key", ["--config", "{tmp}/c.toml", "check", "--no-emhub"], 3,
         "c.toml: worker.nmae: unknown key", stream="stdout",
         files={"c.toml": '[worker]\nnmae = "x"\n'}),
    Case("check: CA bundle missing", ["--config", "{tmp}/c.toml", "check"], 3,
         "emhub.verify: CA bundle /nonexistent/ca.pem does not exist", stream="stdout",
         files={"c.toml": '[emhub]\nurl = "https://emhub.invalid"\nuser = "u"\n'
                          'password = "p"\nverify = "/nonexistent/ca.pem"\n'}),
    Case("plugins value not a table", ["--config", "{tmp}/c.toml", "plugins", "list"], 3,
         "plugins.frames: expected a [plugins.frames] table",
         files={"c.toml": '[plugins]\nframes = 3\n'}),
    Case("run: unknown plugin key is refused",
         ["--config", "{tmp}/c.toml", "run", "--local", "{tmp}/t.toml"], 3,
         "c.toml: plugins.frames-monitor.perod: unknown key (did you mean 'period'?)",
         files={"c.toml": '[plugins.frames-monitor]\nperod = 5\n',
                "t.toml": '[[tasks]]\nname = "nope"\n'}),
    Case("run: unknown core key is refused",
         ["--config", "{tmp}/c.toml", "run", "--local", "{tmp}/t.toml"], 3,
         "c.toml: worker.max_task: unknown key (did you mean 'max_tasks'?)",
         files={"c.toml": '[worker]\nmax_task = 4\n', "t.toml": TASK}),
    Case("run: unknown section is refused", ["--config", "{tmp}/c.toml", "run"], 3,
         "c.toml: unknown section [wroker] (did you mean [worker]?)",
         files={"c.toml": '[wroker]\nname = "krios01"\n'}),
    Case("status: unknown key is refused", ["--config", "{tmp}/c.toml", "status"], 3,
         "c.toml: worker.state_dri: unknown key (did you mean 'state_dir'?)",
         files={"c.toml": '[worker]\nstate_dri = "/tmp"\n'}),
    Case("check: unknown core key, did you mean",
         ["--config", "{tmp}/c.toml", "check", "--no-emhub"], 3,
         "c.toml: emhub.pasword_file: unknown key (did you mean 'password_file'?)",
         stream="stdout",
         files={"c.toml": '[emhub]\npasword_file = "/etc/pw"\n'}),
    Case("config show: a typo is only a warning", ["--config", "{tmp}/c.toml", "config",
                                                    "show"], 0,
         "c.toml: worker.max_task: unknown key (did you mean 'max_tasks'?)",
         files={"c.toml": '[worker]\nmax_task = 4\n'}),
    Case("run: table of a plugin not installed here is a warning",
         ["--config", "{tmp}/c.toml", "run", "--local", "{tmp}/t.toml"], 6,
         "c.toml: [plugins.cluster-pbs]: no plugin 'cluster-pbs' is installed",
         files={"c.toml": '[plugins.cluster-pbs]\nqueue = "q"\n',
                "t.toml": '[[tasks]]\nname = "nope"\n'}),
    Case("local task with no handler", ["run", "--local", "{tmp}/t.toml"], 6,
         "a task failed (local run) (exit 6)", files={"t.toml": '[[tasks]]\nname = "nope"\n'}),
]


def clean_env(tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EMHUB_", "EMWORKER_", "XDG_")) and k != "STATE_DIRECTORY"}
    return {**env, "HOME": str(tmp / "home"), "COLUMNS": "200", **extra}


def run_case(case: Case, tmp: Path) -> subprocess.CompletedProcess[str]:
    for name, content in case.files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = content.replace("{tmp}", str(tmp)) if isinstance(content, str) else content
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    if case.setup is not None:
        case.setup(tmp)
    argv = [arg.replace("{tmp}", str(tmp)) for arg in case.argv]
    return subprocess.run([*EMWORKER, *argv], env=clean_env(tmp, case.env),
                          capture_output=True, text=True, timeout=60)


def the_line(case: Case, proc: subprocess.CompletedProcess[str]) -> str:
    text = proc.stderr if case.stream == "stderr" else proc.stdout
    lines = [line for line in text.splitlines() if case.says in line]
    return lines[0].strip() if lines else ""


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_user_error(case: Case, tmp_path: Path) -> None:
    proc = run_case(case, tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == case.code, output
    assert "Traceback" not in output, output
    text = proc.stderr if case.stream == "stderr" else proc.stdout
    assert text.count(case.says) == 1, f"{case.says!r} not printed exactly once:\n{output}"


def test_every_documented_exit_code_is_distinct_and_described() -> None:
    from emhub_worker_core.ops import exit_codes

    codes = [value for name, value in vars(exit_codes).items()
             if name.isupper() and isinstance(value, int)]
    assert len(codes) == len(set(codes)) == len(exit_codes.DESCRIPTIONS)
    docs = (Path(__file__).resolve().parent.parent / "docs" / "getting-started.rst").read_text()
    for code in codes:
        assert f"\n{code} " in docs, f"exit code {code} is not in docs/getting-started.rst"


if __name__ == "__main__":  # the catalogue for the closing note
    for case in CASES:
        with tempfile.TemporaryDirectory() as folder:
            proc = run_case(case, Path(folder))
            print(f"{case.name} | exit {proc.returncode} | "
                  f"{the_line(case, proc).replace(folder, '$TMP')}")
