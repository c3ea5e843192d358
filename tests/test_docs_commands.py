"""Every ``emworker`` command line the docs show must parse with the real command line.

The docs (``docs/*.rst``, the READMEs) are scanned for command lines in literal blocks and
inline literals; each is walked through :func:`emhub_worker_core.cli.build_parser`'s
commands and options, so renaming or dropping a command or option fails here until the
docs follow.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from emhub_worker_core.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
DOC_FILES = sorted([*REPO.glob("docs/*.rst"), REPO / "README.md", *REPO.glob("plugins/*/README.md"),
                    *REPO.glob("contrib/*/README.md"), *REPO.glob("contrib/systemd/*.service")])
#: ``emworker`` in command position: first word of a line, or the tail of a path
COMMAND = re.compile(r"(?:^\s*(?:\$\s+)?|(?<=bin/))emworker(?=\s|$)(.*)$")
STOP = re.compile(r"\s(?:#|\||&&|;|>|2>)")


def code_snippets(path: Path) -> list[tuple[int, str]]:
    """``(line number, text)`` of the literal blocks' lines and inline literals of a doc."""
    lines = path.read_text().splitlines()
    if path.suffix == ".service":  # ExecStart= lines, and `commands` in the comments
        found = [(n, line.split("=", 1)[1]) for n, line in enumerate(lines, start=1)
                 if line.startswith("Exec")]
        return found + [(n, m.group(1)) for n, line in enumerate(lines, start=1)
                        for m in re.finditer(r"`([^`]+)`", line) if line.startswith("#")]
    snippets: list[tuple[int, str]] = []
    in_block, fence = False, False
    for number, line in enumerate(lines, start=1):
        if path.suffix == ".md" and line.lstrip().startswith("```"):
            fence = not fence
            continue
        if path.suffix == ".rst" and line.strip() and not line[0].isspace():
            in_block = False
        if in_block or fence or (path.suffix == ".md" and line.startswith("    ")):
            if line.strip():
                snippets.append((number, line))
        else:
            pattern = r"``(.+?)``" if path.suffix == ".rst" else r"`([^`]+)`"
            snippets += [(number, m.group(1)) for m in re.finditer(pattern, line)]
        if path.suffix == ".rst" and line.rstrip().endswith("::"):
            in_block = True
    return _join_continuations(snippets)


def _join_continuations(snippets: list[tuple[int, str]]) -> list[tuple[int, str]]:
    joined: list[tuple[int, str]] = []
    for number, text in snippets:
        if joined and joined[-1][1].rstrip().endswith("\\") and joined[-1][0] == number - 1:
            _, previous = joined.pop()
            joined.append((number, previous.rstrip()[:-1].rstrip() + " " + text.strip()))
        else:
            joined.append((number, text))
    return joined


def command_lines(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, text in code_snippets(path):
        match = COMMAND.search(text)
        if match:
            found.append((number, STOP.split(" " + match.group(1))[0].strip()))
    return found


def problems(words: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """What in ``emworker <words>`` the parser does not know (empty: all of it exists)."""
    found = []
    current = parser
    words = [w.strip("[]") for w in words if w.strip("[]")]
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("...", "…") or word.startswith(("<", "{", "$")):
            break
        if word.startswith("-"):
            option = word.split("=", 1)[0]
            action = current._option_string_actions.get(option)
            if action is None:
                found.append(f"option {option} of {current.prog!r} does not exist")
            elif action.nargs != 0 and "=" not in word:
                i += 1  # its value
            i += 1
            continue
        subcommands = [a for a in current._actions
                       if isinstance(a, argparse._SubParsersAction)]
        if not subcommands:
            found.append(f"{current.prog!r} takes no argument {word!r}")
            break
        choice = subcommands[0].choices.get(word)
        if choice is None:
            found.append(f"command {current.prog} {word} does not exist")
            break
        current = choice
        i += 1
    return found


def documented_commands() -> list[tuple[str, str]]:
    return [(f"{path.relative_to(REPO)}:{number}", line)
            for path in DOC_FILES for number, line in command_lines(path)]


def subcommand_path(words: list[str]) -> str:
    """``"plugins list"`` for ``--config F plugins list --json``."""
    names, current, skip = [], build_parser(), False
    for word in words:
        action = current._option_string_actions.get(word.split("=", 1)[0])
        if skip or action is not None:
            skip = action is not None and action.nargs != 0 and "=" not in word
            continue
        subs = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or word not in subs[0].choices:
            break
        names.append(word)
        current = subs[0].choices[word]
    return " ".join(names)


def test_the_docs_show_commands_to_check() -> None:
    shown = {subcommand_path(line.split()) for _, line in documented_commands()}
    for expected in ("run", "check", "status", "plugins list", "config show"):
        assert expected in shown, f"no documented `emworker {expected}`"


@pytest.mark.parametrize("where, line", documented_commands())
def test_documented_command_exists(where: str, line: str) -> None:
    assert not problems(line.split(), build_parser()), f"{where}: emworker {line}"


@pytest.mark.parametrize("line, expected", [
    ("run --no-such-option", "option --no-such-option"),
    ("plugins remove echo", "command emworker plugins remove"),
    ("status --json extra", "takes no argument"),
    ("--config FILE check --no-emhub", None),
    ("run --local tasks.toml --iterations 3 --events=e.jsonl", None),
])
def test_the_checker_itself(line: str, expected: str | None) -> None:
    found = problems(line.split(), build_parser())
    if expected is None:
        assert found == []
    else:
        assert found and expected in found[0]


def test_code_snippets_find_blocks_inline_literals_and_continuations(tmp_path: Path) -> None:
    doc = tmp_path / "x.rst"
    doc.write_text("Prose: emworker is a host. Run ``emworker status --json``::\n\n"
                   "    /opt/emworker/bin/emworker --config a.toml \\\n        check\n"
                   "    systemctl status emworker\n\nDone.\n")
    assert [line for _, line in command_lines(doc)] == ["status --json",
                                                         "--config a.toml check"]
