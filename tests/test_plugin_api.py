"""A plugin built for another plugin API is refused before import, and says why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from emhub_worker_core import PLUGIN_API, __version__
from emhub_worker_core.contract.compatibility import incompatibility
from emhub_worker_core.host.plugin_loader import EntryPointRef, PluginSet
from tests.conftest import pip_install_target

BUILT_INS = ["emworker-cluster-lsf", "emworker-cluster-slurm", "emworker-frames-monitor",
             "emworker-session-transfer"]


class ExplodingEntryPoint:
    """Fails the test if the core imports a plugin it should have refused."""

    def load(self) -> Any:
        raise AssertionError("an incompatible plugin was imported")


def test_the_plugin_api_is_the_cores_major_and_minor() -> None:
    version = Version(__version__)
    assert PLUGIN_API == f"{version.major}.{version.minor}"


@pytest.mark.parametrize("requires, core, compatible", [
    (["emhub-worker-core>=0.1,<0.2"], "0.1.0", True),
    (["emhub-worker-core>=0.1,<0.2"], "0.1.7", True),
    (["emhub-worker-core>=0.1,<0.2"], "0.2.0", False),
    (["emhub-worker-core>=0.2"], "0.1.0", False),
    (["Emhub_Worker.Core~=0.1.0"], "0.1.3", True),   # names compare normalised
    (["emhub-worker-core<0.1"], "0.1.0rc1", False),
    (["requests>=2"], "0.1.0", True),                # no word on the core: loaded
    ([], "0.1.0", True),
    (["emhub-worker-core>=9; extra == 'test'"], "0.1.0", True),   # only for an extra
    (["emhub-worker-core>=9; python_version < '3'"], "0.1.0", True),
    (["not a requirement ((("], "0.1.0", True),
])
def test_declared_ranges(requires: list[str], core: str, compatible: bool) -> None:
    reason = incompatibility(requires, core)
    assert (reason is None) == compatible
    if reason is not None:
        assert "incompatible plugin API" in reason and core in reason


def test_an_incompatible_plugin_is_set_aside_without_import() -> None:
    plugins = PluginSet()
    plugins.load_entry_points([EntryPointRef("future", ExplodingEntryPoint(),
                                             "emworker-future", "3.0",
                                             ("emhub-worker-core>=9,<10",))])
    info = plugins.infos["future"]
    assert info.status == "failed" and info.distribution == "emworker-future"
    assert info.error is not None and "emhub-worker-core<10,>=9" in info.error
    assert PLUGIN_API in info.error
    assert plugins.failed() == [info]  # so [plugins] strict = true refuses to start


def test_every_built_in_declares_a_range_this_core_is_in() -> None:
    for name in BUILT_INS:
        requires = metadata.distribution(name).requires or []
        core = [r for r in requires if r.lower().startswith("emhub-worker-core")]
        assert core and "<" in core[0], f"{name} must bound the plugin API it was built for"
        assert incompatibility(requires) is None, name


def test_plugins_list_reports_an_installed_plugin_built_for_another_api(
        tmp_path: Path, worker_env: dict[str, str]) -> None:
    project = tmp_path / "emworker-future"
    (project / "emworker_future").mkdir(parents=True)
    (project / "emworker_future" / "__init__.py").write_text("")
    (project / "emworker_future" / "plugin.py").write_text(
        "raise RuntimeError('imported although incompatible')\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=77"]\n'
        'build-backend = "setuptools.build_meta"\n'
        '[project]\nname = "emworker-future"\nversion = "1.0"\n'
        'dependencies = ["emhub-worker-core>=99,<100"]\n'
        '[project.entry-points.emworker]\nfuture = "emworker_future.plugin"\n'
        '[tool.setuptools]\npackages = ["emworker_future"]\n')
    site = tmp_path / "site"
    pip_install_target(site, project)
    env = {**worker_env, "PYTHONPATH": os.pathsep.join([str(site), worker_env["PYTHONPATH"]])}
    listed = subprocess.run([sys.executable, "-m", "emhub_worker_core", "plugins", "list",
                             "--json"], env=env, capture_output=True, text=True, check=True)
    future = next(p for p in json.loads(listed.stdout) if p["name"] == "future")
    assert future["status"] == "failed"
    assert "incompatible plugin API" in future["error"] and "<100,>=99" in future["error"]
    assert "imported although" not in future["error"]
    # the others keep working
    echo = next(p for p in json.loads(listed.stdout) if p["name"] == "echo")
    assert echo["status"] == "ok"
