"""The kit keeps the real-server tests on one xdist worker, or refuses the run.

Two real-server tests running at once meet on machine-wide things (a session's local OTF
job, the Slurm lock): scripts/test.sh runs two workers only because this holds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("xdist")

TESTS = """
import pytest

@pytest.mark.emhub
@pytest.mark.parametrize("n", range(6))
def test_real(n):
    pass

@pytest.mark.parametrize("n", range(6))
def test_plain(n):
    pass
"""


def run_two_workers(folder: Path) -> subprocess.CompletedProcess[str]:
    (folder / "test_grouped.py").write_text(TESTS)
    (folder / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "."],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_real_server_tests_run_on_one_worker(tmp_path: Path) -> None:
    done = run_two_workers(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    workers = set(re.findall(r"\[(gw\d)\] .*PASSED test_grouped.py::test_real\[\d\]@real-servers",
                             done.stdout))
    assert len(workers) == 1, done.stdout
    assert done.stdout.count("PASSED test_grouped.py::test_real[") == 6
    assert done.stdout.count("PASSED test_grouped.py::test_plain[") == 6


def test_a_lost_group_stops_the_run_with_its_reason(tmp_path: Path) -> None:
    # Stand in for pytest 9.2, whose node ids ignore what xdist writes into `_nodeid`.
    (tmp_path / "conftest.py").write_text(
        "import pytest\n"
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        "        kept = item.nodeid\n"
        "        ignored = property(lambda self, kept=kept: kept, lambda self, value: None)\n"
        "        item.__class__ = type('Structured', (type(item),), {'_nodeid': ignored})\n"
    )
    done = run_two_workers(tmp_path)
    assert done.returncode != 0
    assert "did not group 6 real-server tests" in done.stdout + done.stderr
