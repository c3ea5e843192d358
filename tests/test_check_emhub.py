"""``emworker check`` against the real EMhub: passes when all is well, names each failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from emworker_testkit.emhub_server import EMhubServer, free_port

pytestmark = pytest.mark.emhub


def check(config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMHUB_", "EMWORKER_"))}
    return subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config", str(config),
                           "check"], env=env, capture_output=True, text=True, timeout=120)


def test_check_passes_on_the_real_server(emhub_server: EMhubServer, tmp_path: Path) -> None:
    config = emhub_server.worker_config(tmp_path / "c.toml", "check.test", password_file=True)
    result = check(config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok EMhub credentials: logged in as admin" in result.stdout
    assert "ok EMhub worker name: check.test is registered" in result.stdout


def test_wrong_password_exit_4(emhub_server: EMhubServer, tmp_path: Path) -> None:
    config = emhub_server.worker_config(tmp_path / "c.toml", "check.test",
                                        emhub_settings={"password": "not-the-password"})
    result = check(config)
    assert result.returncode == 4, result.stdout
    assert "FAIL EMhub credentials" in result.stdout
    assert "not-the-password" not in result.stdout + result.stderr


def test_unregistered_worker_name_exit_4(emhub_server: EMhubServer, tmp_path: Path) -> None:
    config = emhub_server.worker_config(tmp_path / "c.toml", "nobody.test")
    result = check(config)
    assert result.returncode == 4, result.stdout
    assert "FAIL EMhub worker name: nobody.test is not in EMhub's config:hosts" in result.stdout


def test_unreachable_server_exit_1(emhub_server: EMhubServer, tmp_path: Path) -> None:
    config = emhub_server.worker_config(
        tmp_path / "c.toml", "check.test",
        emhub_settings={"url": f"http://127.0.0.1:{free_port()}", "timeout": 3})
    result = check(config)
    assert result.returncode == 1, result.stdout
    assert "FAIL EMhub server" in result.stdout
