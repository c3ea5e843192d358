"""Fixtures for the core's tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent


def pip_install_target(target: Path, *projects: Path) -> None:
    """``pip install --target``: a real installation, in a folder of the test's own.

    Each project is built from a copy: setuptools writes ``build/`` and ``*.egg-info``
    beside the sources it builds, and the tree must stay as committed."""
    with tempfile.TemporaryDirectory(prefix="emw-build-") as tmp:
        copies = [shutil.copytree(project, Path(tmp) / project.name,
                                  ignore=shutil.ignore_patterns("build", "*.egg-info"))
                  for project in projects]
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--no-build-isolation", "--disable-pip-version-check",
                        "--target", str(target), *map(str, copies)], check=True)


@pytest.fixture(scope="session")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin and a broken one, pip-installed into one target folder."""
    target = tmp_path_factory.mktemp("site")
    pip_install_target(target, REPO / "contrib" / "echo-plugin",
                       REPO / "tests" / "plugins_fixture" / "broken-plugin")
    return target


@pytest.fixture
def worker_env(installed_plugins: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for an ``emworker`` subprocess that sees the installed plugins only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMHUB_", "EMWORKER_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(installed_plugins), str(REPO)])
    env["HOME"] = str(tmp_path)  # no user config file leaks in
    env["XDG_CONFIG_HOME"] = str(tmp_path / ".config")
    yield env
