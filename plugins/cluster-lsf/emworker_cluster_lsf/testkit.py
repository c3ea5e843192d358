"""Replay recorded LSF command outputs, for tests and demos on machines without LSF.

A scenario is a JSON file ``{"commands": [{"argv": [...], "stdout": "..." | "stdout_file":
"name.txt", "stderr": "", "rc": 0}]}``; ``stdout_file`` is read next to the scenario.
The same scenario drives a :class:`~emhub_worker_core.testing.FakeRunner` (unit tests) and
fake ``bqueues``/``bjobs``/``bhosts`` executables (end-to-end tests), via :func:`main`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

Reply = tuple[str, str, int]
PROGRAMS = ("bqueues", "bjobs", "bhosts")


def load_scenario(path: Path) -> dict[tuple[str, ...], Reply]:
    """{argv tuple: (stdout, stderr, exit code)} from a scenario file."""
    data: dict[str, Any] = json.loads(path.read_text())
    replies: dict[tuple[str, ...], Reply] = {}
    for command in data["commands"]:
        stdout = command.get("stdout", "")
        if "stdout_file" in command:
            stdout = (path.parent / command["stdout_file"]).read_text()
        replies[tuple(command["argv"])] = (stdout, command.get("stderr", ""),
                                           int(command.get("rc", 0)))
    return replies


def replay(replies: dict[tuple[str, ...], Reply], argv: Sequence[str]) -> Reply:
    """The recorded reply for ``argv``; an unrecorded call fails loudly (exit 97)."""
    return replies.get(tuple(argv), ("", f"no recording for {list(argv)}\n", 97))


def fake_runner_responses(path: Path) -> dict[str, Any]:
    """Responses for ``FakeRunner``: each LSF program answers from the scenario."""
    replies = load_scenario(path)
    return {program: (lambda argv: replay(replies, argv)) for program in PROGRAMS}


def write_fake_commands(scenario: Path, bin_dir: Path) -> None:
    """Write executable ``bqueues``/``bjobs``/``bhosts`` scripts replaying ``scenario``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for program in PROGRAMS:
        script = bin_dir / program
        script.write_text(f"#!{sys.executable}\nimport sys\n"
                          "from emworker_cluster_lsf.testkit import main\n"
                          f"sys.exit(main({str(scenario)!r}, sys.argv))\n")
        script.chmod(0o755)


def main(scenario: str, argv: Sequence[str]) -> int:
    """Body of a fake LSF command: print the recorded output, return the recorded code."""
    stdout, stderr, code = replay(load_scenario(Path(scenario)),
                                  [Path(argv[0]).name, *argv[1:]])
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    return code
