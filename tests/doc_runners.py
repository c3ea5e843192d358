"""How the examples of the docs are run: the kinds of plan, the set-ups an example expects
beside it and the runners (tests/test_docs_examples.py gives each example its plan).

:data:`NOT_RUN_LINES` refuses the command lines that cannot run here, each with its reason;
:data:`REWRITES` adapts the ones that run with a change, each saying why.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

from tests.doc_examples import REPO, Example, all_examples, example
from tests.doc_sandbox import Sandbox

VERDICTS = frozenset({0, 8, 9, 10})  # what `emworker status` may answer


@dataclass(frozen=True)
class Shell:
    """The block's command lines, in one bash in the sandbox; each must exit 0 (or as
    ``codes`` says: the first line starting with the key)."""
    setup: Optional[str] = None                 # a function of SETUPS, run first
    codes: tuple[tuple[str, frozenset[int]], ...] = ()  # (line part, allowed exit codes)
    output: tuple[str, ...] = ()                # fragments the output must hold
    emhub: bool = False                         # against the real EMhub


@dataclass(frozen=True)
class Config:
    """A configuration file: ``emworker --config FILE check --no-emhub`` passes."""


@dataclass(frozen=True)
class Tasks:
    """A tasks file: ``emworker run --local FILE --iterations N`` ends 0, no error event."""
    iterations: int = 1
    config: Optional[tuple[str, str]] = None    # (doc, first line) of its config example
    folders: tuple[str, ...] = ()               # machine folders its tasks expect
    movies: tuple[str, ...] = ()                # movies there, written an hour ago
    events: bool = True                         # it sends an event in those steps


@dataclass(frozen=True)
class Python:
    """Executed as a module; every ``test_*`` function it defines is then called."""


@dataclass(frozen=True)
class Custom:
    """Run by a function of this module (the example needs more than one file)."""
    run: Callable[[Example, Sandbox], None]


@dataclass(frozen=True)
class Sample:
    """An output sample: valid JSON whose keys the plugin's real events have."""
    keys_from: Optional[Callable[[Path], set[str]]] = None


@dataclass(frozen=True)
class PartOf:
    """Run with another example of the same page, by that example's plan."""
    example: str  # its id


@dataclass(frozen=True)
class Elsewhere:
    """Run, as written, by another test of the suite."""
    test: str  # "tests/test_x.py::test_name"


@dataclass(frozen=True)
class NotRun:
    reason: str


Plan = Union[Shell, Config, Tasks, Python, Custom, Sample, PartOf, Elsewhere, NotRun]

#: Command lines that are not run here, each with its reason (matched at the line start).
NOT_RUN_LINES: list[tuple[str, str]] = [
    (r"bash scripts/demo\.sh", "installs .venv; tests/test_demo.py runs what it runs "
                               "(examples/make_demo.py, then the local run)"),
    (r"bash scripts/test\.sh", "the test suite itself"),
    (r"apt-get ", "installs Debian packages on the machine"),
    (r"python3 -m venv ", "creates a virtual environment: the suite runs in its own .venv "
                          "(tests/test_wheelhouse.py creates a fresh one)"),
    (r"(pip|/opt/emworker/bin/pip) install (--upgrade )?--no-index --find-links",
     "an install from a wheelhouse: tests/test_wheelhouse.py builds one and installs a "
     "plugin from it into a fresh venv"),
    (r"pip install \./ \./plugins/", "installs this clone's distributions: scripts/test.sh "
                                     "installed them into the suite's .venv"),
    (r"/opt/emworker/bin/pip install \./", "installs this clone's distributions: "
                                           "scripts/test.sh installed them into .venv"),
    (r"adduser ", "creates system users and groups on the machine"),
    (r"install -m 0640 -g emworker ", "needs the emworker group (adduser); the sandbox "
                                      "writes the password file itself"),
    (r"editor ", "interactive; the sandbox writes the password file itself"),
    (r"chgrp emworker ", "needs the emworker group (adduser)"),
    (r"systemctl ", "needs systemd as PID 1; tests/test_contrib.py verifies the units with "
                    "systemd-analyze"),
    (r"journalctl ", "needs systemd's journal of a running unit"),
    (r"\.venv/bin/python -m pytest plugins/", "the plugin's own tests: the suite runs them"),
]

#: Command lines run with a change, each with its reason.
REWRITES: list[tuple[str, Callable[[str], str], str]] = [
    (r"runuser -u emworker -- ", lambda line: line.split(" -- ", 1)[1],
     "runs the command as the current user: the sandbox has no emworker user"),
    (r"\S*emworker --config \S+ run(\s+#.*)?$",
     lambda line: "run_for 8 " + re.sub(r"\s+#.*$", "", line),
     "runs until stopped: stopped with SIGTERM after 8 s (it must have connected)"),
    (r"emworker --config config.toml run --local tasks.toml$",
     lambda line: line + " --iterations 1",
     "runs until the session is over (days): stopped after its first step"),
]


def command_lines(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.splitlines():
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1].rstrip() + " " + line.strip()
        elif line.strip():
            lines.append(line.strip())
    return lines


def _not_run_reason(line: str) -> Optional[str]:
    return next((reason for pattern, reason in NOT_RUN_LINES if re.match(pattern, line)), None)


def runnable_lines(shell: Shell, text: str) -> list[tuple[str, frozenset[int]]]:
    lines = []
    for line in command_lines(text):
        if line.startswith("#") or _not_run_reason(line):
            continue
        for pattern, rewrite, _why in REWRITES:
            if re.match(pattern, line):
                line = rewrite(line)
        codes = next((c for fragment, c in shell.codes if fragment in line),
                     frozenset({0}))
        lines.append((line, codes))
    return lines


# -- set-ups: the files an example expects beside it ---------------------------------------

def _demo(box: Sandbox) -> None:
    """What scripts/demo.sh does before the README's lines: the echo plugin installed too,
    the demo folder built."""
    from tests.conftest import pip_install_target

    pip_install_target(box.root / "site", REPO / "contrib" / "echo-plugin")
    subprocess.run([sys.executable, str(REPO / "examples" / "make_demo.py"),
                    str(box.root / ".demo")], check=True, capture_output=True)


def _tasks_file_of(doc: str, first: str, box: Sandbox, name: str = "tasks.toml") -> None:
    box.write(name, example(doc, first).text)


def _quickstart_config(box: Sandbox) -> None:
    box.write("/etc/emworker/config.toml",
              example("docs/quickstart-emhub.rst", "[worker]").text)
    box.write("/etc/emworker/password", PASSWORD + "\n")


def _deployment_config(box: Sandbox) -> None:
    box.write("/etc/emworker/krios01.toml", example("docs/deployment.rst", "[worker]").text)
    box.write("/etc/emworker/krios01.password", PASSWORD + "\n")


def _readme(box: Sandbox) -> None:
    _tasks_file_of("README.md", "[[tasks]]", box)
    _quickstart_config(box)


def _transfer(box: Sandbox) -> None:
    _tasks_file_of("plugins/session-transfer/README.md", "[[tasks]]", box)
    _tasks_file_of("plugins/session-transfer/README.md", "[plugins.session-transfer]", box,
                   "config.toml")
    _old_movie(box.path("/data/frames/S1/FoilHole_1_fractions.tiff"))


def _old_movie(path: Path) -> None:
    """A movie the microscope finished an hour ago (settled for every quiet period)."""
    import os
    import time

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * 4096)
    os.utime(path, (time.time() - 3600,) * 2)


PASSWORD = "smith"  # the plain account's (tests/doc_sandbox.py PLAIN_PASSWORD)

SETUPS: dict[str, Callable[[Sandbox], None]] = {
    "demo": _demo, "readme": _readme, "quickstart": _quickstart_config,
    "deployment": _deployment_config, "transfer": _transfer,
    "getting-started": lambda box: _tasks_file_of("docs/getting-started.rst", "[[tasks]]",
                                                  box),
    "local-runs": lambda box: _tasks_file_of("docs/local-runs.rst", "# One table", box),
}


# -- runners ---------------------------------------------------------------------------------

def run_shell(plan: Shell, ex: Example, box: Sandbox) -> None:
    if plan.setup:
        SETUPS[plan.setup](box)
    proc = box.bash(runnable_lines(plan, ex.text))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{ex.path}:{ex.line}:\n{output[-4000:]}"
    assert "Traceback" not in output, output[-4000:]
    for fragment in plan.output:
        assert " ".join(fragment.split()) in " ".join(output.split()), output[-4000:]


def emworker(box: Sandbox, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "emhub_worker_core", *argv], env=box.env(),
                          capture_output=True, text=True, timeout=300, cwd=box.root)


def run_config(ex: Example, box: Sandbox) -> None:
    path = box.write("/etc/emworker/example.toml", ex.text)
    proc = emworker(box, "--config", str(path), "check", "--no-emhub")
    assert proc.returncode == 0, f"{ex.path}:{ex.line}:\n{proc.stdout}{proc.stderr}"
    assert "FAIL" not in proc.stdout and "ok configuration" in proc.stdout


def run_tasks(plan: Tasks, ex: Example, box: Sandbox) -> None:
    for folder in plan.folders:
        box.path(folder).mkdir(parents=True, exist_ok=True)
    for movie in plan.movies:
        _old_movie(box.path(movie))
    tasks = box.write("tasks.toml", ex.text)
    argv = ["run", "--local", str(tasks), "--iterations", str(plan.iterations)]
    if plan.config:
        argv = ["--config", str(box.write("config.toml", example(*plan.config).text)), *argv]
    proc = emworker(box, *argv)
    assert proc.returncode == 0, f"{ex.path}:{ex.line}:\n{proc.stdout}{proc.stderr}"
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events or not plan.events, proc.stderr
    errors = [e for e in events if "error" in e.get("event", {})]
    assert not errors, errors


def run_python(ex: Example, box: Sandbox) -> None:
    namespace: dict[str, Any] = {"__name__": "doc_example"}
    exec(compile(ex.text, f"{ex.path}:{ex.line}", "exec"), namespace)  # noqa: S102
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()


def run_sample(plan: Sample, ex: Example, box: Sandbox) -> None:
    sample = json.loads(ex.text)
    assert isinstance(sample, dict)
    if plan.keys_from is not None:
        real = plan.keys_from(box.root)
        assert set(sample) <= real, f"documented but never sent: {set(sample) - real}"


def frames_event_keys(root: Path) -> set[str]:
    """The keys of a real frames-monitor event, from a local run on a small tree."""
    frames = root / "frames"
    (frames / "S00301_grid1").mkdir(parents=True)
    (frames / "S00301_grid1" / "a_fractions.tiff").write_bytes(b"0" * 10)
    tasks = root / "frames-tasks.toml"
    tasks.write_text(f'[[tasks]]\nname = "frames"\n[emhub.config.sessions]\n'
                     f'raw = {{ root_frames = "{frames}" }}\n')
    box = Sandbox(root)
    proc = emworker(box, "run", "--local", str(tasks), "--iterations", "1")
    assert proc.returncode == 0, proc.stderr
    [line] = proc.stdout.splitlines()
    event: dict[str, Any] = json.loads(line)["event"]
    return set(event) | {"problems"}  # sent only when a folder could not be read


def run_hook_example(ex: Example, box: Sandbox) -> None:
    """hooks.rst: the hook implementations, called as the core calls them."""
    from emworker_session_transfer.handler import TransferHandler

    from emhub_worker_core import hookimpl

    module = types.ModuleType("emworker_session_transfer.doc_example")
    module.__package__ = "emworker_session_transfer"
    module.__dict__.update(hookimpl=hookimpl, TransferHandler=TransferHandler)
    exec(compile(ex.text, f"{ex.path}:{ex.line}", "exec"), module.__dict__)  # noqa: S102
    registered: list[tuple[Any, ...]] = []
    if "emworker_register_tasks" in module.__dict__:
        module.emworker_register_tasks(lambda *a, **k: registered.append((*a, k)))
        assert registered[1] == ("session", TransferHandler, {"action": "transfer"})
        assert registered[0][1].endswith(":TransferHandler")
    elif "emworker_worker_specs" in module.__dict__:
        assert module.emworker_worker_specs() == {"slurm": "22.05.8"}
    else:
        from emhub_worker_core.contract.plugin_settings import declared

        settings = declared(module.emworker_plugin_settings())
        assert settings["quiet_seconds"].default == 60 and settings["raw_root"].types == (str,)


def check_plugin_api_pin(ex: Example, box: Sandbox) -> None:
    """packaging.rst: the range every built-in plugin declares, as the page shows it."""
    from emhub_worker_core._compat import tomllib

    shown = tomllib.loads(ex.text)["project"]["dependencies"]
    for pyproject in REPO.glob("plugins/*/pyproject.toml"):
        declared = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
        assert shown[0] in declared, pyproject


def check_hosts_form(ex: Example, box: Sandbox) -> None:
    """quickstart: the form's shape, and the worker name the page's configuration uses."""
    from emhub_worker_core._compat import tomllib

    hosts = json.loads(ex.text)
    assert all(set(value) == {"alias"} for value in hosts.values())
    config = tomllib.loads(example("docs/quickstart-emhub.rst", "[worker]").text)
    assert config["worker"]["name"] in hosts


def run_local_event_lines(ex: Example, box: Sandbox) -> None:
    """local-runs.rst: the page's tasks file, run; its two kinds of events-file lines
    (a task's event, a session update) are written with the keys the page shows."""
    shown = [json.loads(e.text) for e in all_examples()
             if e.path == ex.path and e.first_line.startswith('{"time"')]
    events = box.root / "events.jsonl"
    _tasks_file_of(ex.path, "# One table", box)
    proc = emworker(box, "run", "--local", "tasks.toml", "--events", str(events),
                    "--iterations", "1")
    assert proc.returncode == 0, proc.stderr
    written = [json.loads(x) for x in events.read_text().splitlines()]
    assert len(shown) == 2
    for line in shown:
        same_kind = [w for w in written if set(w) == set(line)]
        assert same_kind, f"no line with the keys {sorted(line)} in {written}"
        if "event" in line:
            assert any(set(line["event"]) <= set(w["event"]) for w in same_kind)


def hello_plugin(ex: Example, box: Sandbox) -> None:
    """writing-plugins.rst, the whole page: the distribution, its handler, its test, the
    second plugin.py (a lazy handler and declared settings), installed and run."""
    page = "docs/writing-plugins.rst"
    project = box.root / "home" / "emworker-hello"
    package = project / "emworker_hello"
    package.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(example(page, "[build-system]").text)
    (project / "README.md").write_text("# emworker-hello\n")    # the page asks for them,
    (project / "LICENSE").write_text("GPL-3.0-or-later\n")      # with any content
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(example(page, "from emhub_worker_core import "
                                                     "TaskHandler").text)
    (project / "tests").mkdir(exist_ok=True)
    (project / "tests" / "test_hello.py").write_text(example(page, "# tests/test_hello").text)
    (project / "tasks.toml").write_text(example(page, "[[tasks]]").text)
    steps = example(page, "pip install -e .").text
    proc = box.bash([(f"cd {project}", frozenset({0})),
                     *runnable_lines(Shell(), steps),
                     ("pytest tests", frozenset({0}))])
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert re.search(r"^hello\s+emworker-hello\s+0\.1\.0\s+hello\s+ok", output, re.M), output
    greetings = [json.loads(x)["event"] for x in proc.stdout.splitlines() if x.startswith("{")]
    assert greetings[0] == {"greeting": "hello EMhub", "step": 1}
    assert greetings[-1] == {"done": 1}
    # the lazy variant: plugin.py as the page shows it second, the handler moved
    (package / "handler.py").write_text((package / "plugin.py").read_text())
    (package / "plugin.py").write_text(example(page, "# emworker_hello/plugin.py").text)
    config = box.root / "hello.toml"
    config.write_text('[plugins.hello]\ngreting = "hi"\nsteps = 0\n')
    proc = box.bash([(f"cd {project}", frozenset({0})), ("pip install -e .", frozenset({0})),
                     (f"emworker --config {config} check --no-emhub", frozenset({3})),
                     ("emworker run --local tasks.toml --iterations 1", frozenset({0}))])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "plugins.hello.greting: unknown key (did you mean 'greeting'?)" in proc.stdout
    assert "plugins.hello.steps: must be at least 1, got 0" in proc.stdout
    assert 'steps (integer = 3, at least 1, task arg too): steps before done' in proc.stdout
    assert '"greeting": "hello EMhub"' in proc.stdout
