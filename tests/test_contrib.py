"""What admins and plugin authors copy must work: the systemd units and the plugin template."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, pip_install_target

UNITS = REPO / "contrib" / "systemd"


def strict_ci_skip(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: skipping is not allowed)")
    pytest.skip(reason)


@pytest.mark.parametrize("unit, instance", [("emworker.service", "emworker.service"),
                                            ("emworker@.service", "emworker@krios01.service")])
def test_systemd_units_verify_cleanly(tmp_path: Path, unit: str, instance: str) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        strict_ci_skip("systemd-analyze is not installed (apt-get install systemd)")
    emworker = shutil.which("emworker") or str(Path(sys.executable).parent / "emworker")
    text = (UNITS / unit).read_text().replace("/opt/emworker/bin/emworker", emworker)
    (tmp_path / instance).write_text(text)
    result = subprocess.run([analyze, "verify", str(tmp_path / instance)],
                            capture_output=True, text=True)
    # verify exits 0 even on unknown keys: any message at all is a failure here
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_units_keep_the_promises_of_the_docs() -> None:
    for unit in ("emworker.service", "emworker@.service"):
        text = (UNITS / unit).read_text()
        assert "RestartPreventExitStatus=3 4" in text and "Restart=on-failure" in text
        assert "Type=notify" in text and "WatchdogSec=" in text
        stop = int(text.split("TimeoutStopSec=")[1].split()[0])
        assert stop > 30, "the stop timeout must exceed the default grace period (30 s)"
        assert "EMHUB_PASSWORD=" not in text  # secrets come from an environment file


def test_plugin_template_copied_renamed_installed_and_run(tmp_path: Path,
                                                          worker_env: dict[str, str]) -> None:
    project = tmp_path / "emworker-hello"
    shutil.copytree(REPO / "contrib" / "plugin-template", project,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    for path in list(project.rglob("*")):
        if path.is_file():
            path.write_text(path.read_text().replace("myplugin", "hello"))
    (project / "emworker_myplugin").rename(project / "emworker_hello")
    site = tmp_path / "site"
    pip_install_target(site, project)
    env = {**worker_env, "PYTHONPATH": os.pathsep.join([str(site), worker_env["PYTHONPATH"]])}

    listed = subprocess.run([sys.executable, "-m", "emhub_worker_core", "plugins", "list",
                             "--json"], env=env, capture_output=True, text=True, check=True)
    hello = next(p for p in json.loads(listed.stdout) if p["name"] == "hello")
    assert hello["status"] == "ok" and hello["distribution"] == "emworker-hello"
    assert hello["tasks"] == ["hello"]

    folder = tmp_path / "watched"
    folder.mkdir()
    (folder / "movie.tiff").write_bytes(b"0")
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(f'[[tasks]]\nname = "hello"\nargs = {{ folder = "{folder}", '
                     f'period = 0, times = 2 }}\n')
    run = subprocess.run([sys.executable, "-m", "emhub_worker_core", "run", "--local",
                          str(tasks)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    events = [json.loads(line)["event"] for line in run.stdout.splitlines()]
    assert events == [{"folder": str(folder), "files": 1}] * 2 + [{"files": 1, "done": 1}]

    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(project / "tests")], env=env, capture_output=True,
                           text=True, cwd=project)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout
