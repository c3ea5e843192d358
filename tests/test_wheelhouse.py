"""A site installs one plugin on its own, from the wheelhouse, with nothing else around."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

LICENSE = (REPO / "LICENSE").read_text()
# One worker builds the wheelhouse once for all of this module's tests.
pytestmark = pytest.mark.server_group("wheelhouse")

STALE_BUILD = REPO / "plugins/cluster-lsf/build"
STALE = STALE_BUILD / "lib/emworker_cluster_lsf/deleted_module.py"


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    # What an earlier build leaves: setuptools would pack it (test_wheels_hold_only_the_source)
    STALE.parent.mkdir(parents=True, exist_ok=True)
    STALE.write_text("STALE = True\n")
    try:
        result = subprocess.run(["bash", str(REPO / "scripts" / "wheelhouse.sh"), str(out)],
                                capture_output=True, text=True, env=_env(), timeout=900)
        built_here = [p for p in REPO.glob("plugins/*/build") if p != STALE_BUILD]
    finally:
        shutil.rmtree(STALE_BUILD, ignore_errors=True)
    assert not built_here, f"the build wrote {built_here} in the source tree"
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMHUB_", "EMWORKER_"))}
    env["PYTHON"] = sys.executable  # the Python running the tests builds the wheels
    return env


def ours(wheelhouse: Path) -> list[Path]:
    return sorted([*wheelhouse.glob("emhub_worker_core-*.whl"),
                   *wheelhouse.glob("emworker_*.whl")])


@pytest.mark.slow
def test_every_distribution_is_in_the_wheelhouse(wheelhouse: Path) -> None:
    expected = {"emhub_worker_core", "emworker_echo"} | {
        "emworker_" + p.name.replace("-", "_") for p in REPO.glob("plugins/*")
        if (p / "pyproject.toml").exists()}
    assert {w.name.split("-")[0] for w in ours(wheelhouse)} == expected


@pytest.mark.slow
def test_wheels_hold_only_modules_of_the_source(wheelhouse: Path) -> None:
    roots = [REPO, *REPO.glob("plugins/*"), REPO / "contrib/echo-plugin"]
    for wheel in ours(wheelhouse):
        with zipfile.ZipFile(wheel) as zf:
            modules = {n for n in zf.namelist() if n.endswith(".py")}
        assert modules, wheel.name
        extra = [m for m in modules if not any((root / m).is_file() for root in roots)]
        assert not extra, (wheel.name, extra)


@pytest.mark.slow
def test_every_wheel_carries_the_license_and_its_metadata(wheelhouse: Path) -> None:
    for wheel in ours(wheelhouse):
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            licenses = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
            assert licenses, f"{wheel.name} has no LICENSE"
            assert zf.read(licenses[0]).decode() == LICENSE
            meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
            text = meta.decode()
            assert "License-Expression: GPL-3.0-or-later" in text, wheel.name
            assert "Classifier: " in text and "Project-URL: " in text, wheel.name
            assert "Description-Content-Type: text/markdown" in text, wheel.name
            if not wheel.name.startswith("emhub_worker_core"):
                assert "Requires-Dist: emhub-worker-core<0.2,>=0.1" in text, wheel.name
            else:  # published metadata pins no exact linter version
                pinned = [line for line in text.splitlines()
                          if line.startswith("Requires-Dist") and re.search(r"==\s*\d", line)]
                assert not pinned


@pytest.mark.slow
def test_one_plugin_alone_from_the_wheelhouse_into_a_fresh_venv(wheelhouse: Path,
                                                              tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # The line docs/packaging.rst gives sites: no index, only the wheelhouse.
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                              "--disable-pip-version-check", "--no-index", "--find-links",
                              str(wheelhouse), "emworker-frames-monitor"],
                             capture_output=True, text=True, env=_env(), timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    listed = subprocess.run([str(venv / "bin" / "emworker"), "plugins", "list", "--json"],
                            capture_output=True, text=True, env={**_env(), "HOME": str(tmp_path)},
                            cwd=tmp_path, timeout=120)
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert set(plugins) == {"frames-monitor"}  # that plugin, and only it
    assert plugins["frames-monitor"]["status"] == "ok"
    assert plugins["frames-monitor"]["distribution"] == "emworker-frames-monitor"
    assert "frames" in plugins["frames-monitor"]["tasks"]
    typed = list((venv / "lib").glob("python*/site-packages/emhub_worker_core/py.typed"))
    assert typed, "the installed core is not marked typed"
