"""Lint and types are part of the suite: ruff over the tree, mypy --strict over every package."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = [REPO / "emhub_worker_core", REPO / "testkit" / "emworker_testkit",
            *sorted(p for p in REPO.glob("plugins/*/emworker_*")
                    if not p.name.endswith(".egg-info"))]


def tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return path


def test_ruff_is_clean() -> None:
    result = subprocess.run([tool("ruff"), "check", "--no-cache", "emhub_worker_core",
                             "plugins", "testkit", "tests", "contrib", "bench", "examples"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    # One run over every package: the core is checked once, not once per plugin.
    result = subprocess.run([tool("mypy"), "--strict", "--no-incremental",
                             *map(str, PACKAGES)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    checked = re.search(r"in (\d+) source files", result.stdout)
    assert checked and int(checked[1]) >= len(PACKAGES), result.stdout
