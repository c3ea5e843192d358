"""The deployment docs and the units agree, and their steps run on a stock Debian."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emhub_worker_core._compat import tomllib

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
UNITS = REPO / "contrib" / "systemd"
ADMIN_TEXTS = [*DOCS.glob("*.rst"), REPO / "README.md", *UNITS.glob("*.service")]


def literal_block_after(text: str, marker: str, indent: int = 7) -> str:
    """The literal block (indented ``indent`` spaces or more) after the line with ``marker``."""
    after = text.split(marker, 1)[1].split("\n", 1)[1]
    lines = []
    for line in after.splitlines():
        if line.strip() and not line.startswith(" " * indent):
            break
        lines.append(line)
    least = min(len(x) - len(x.lstrip()) for x in lines if x.strip())
    return "\n".join(x[least:] for x in lines)


@pytest.mark.parametrize("path", ADMIN_TEXTS, ids=lambda p: p.name)
def test_no_sudo_and_no_password_on_a_command_line(path: Path) -> None:
    text = path.read_text()
    commands = [line for line in text.splitlines() if re.search(r"(^|\s)sudo\s+-", line)
                or re.match(r"\s*sudo\s", line)]
    assert not commands, f"{path.name}: stock Debian has no sudo: {commands}"
    assert "env $(" not in text and "$(cat" not in text, \
        f"{path.name}: a secret expanded onto a command line is visible in ps"
    assert not re.search(r"EMHUB_PASSWORD=\S+\s+\S*emworker", text), path.name


@pytest.mark.parametrize("unit", ["emworker.service", "emworker@.service"])
def test_documentation_links_point_at_installed_docs(unit: str) -> None:
    text = (UNITS / unit).read_text()
    links = re.findall(r"file://(\S+)", text.split("Documentation=", 1)[1].splitlines()[0])
    assert links
    steps = (DOCS / "deployment.rst").read_text()
    assert "cp emworker/docs/*.rst /usr/share/doc/emworker/" in steps
    for link in links:
        folder, name = link.rsplit("/", 1)
        assert folder == "/usr/share/doc/emworker", link
        assert (DOCS / name).exists(), f"{unit} points at {link}, and docs/{name} is missing"


def test_the_documented_state_dir_is_the_units_state_directory() -> None:
    steps = (DOCS / "deployment.rst").read_text()
    config = tomllib.loads(literal_block_after(steps, "**Configuration** ``/etc/emworker/"))
    instance = re.search(r"enable --now emworker@(\w+)", steps)
    assert instance is not None
    unit = (UNITS / "emworker@.service").read_text()
    state = re.search(r"^StateDirectory=(\S+)", unit, re.M)
    assert state is not None
    expected = "/var/lib/" + state.group(1).replace("%i", instance.group(1))
    assert config["worker"]["state_dir"] == expected
    config_path = re.search(r"--config (/etc/emworker/%i\.toml)", unit)
    assert config_path is not None
    assert f"``/etc/emworker/{instance.group(1)}.toml``" in steps


def test_readme_starts_with_the_two_commands() -> None:
    lines = (REPO / "README.md").read_text().splitlines()
    assert lines[2] == "```bash"
    assert lines[3].startswith("bash scripts/demo.sh   #")
    assert lines[4].startswith("bash scripts/test.sh   #")
    assert lines[5] == "```"
