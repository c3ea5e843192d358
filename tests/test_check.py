"""``emworker check`` fails clearly on each broken set-up (EMhub cases: test_check_emhub)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path


def check(env: dict[str, str], config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config", str(config),
                           "check", *extra], env=env, capture_output=True, text=True,
                          timeout=120)


def test_broken_plugin_fails_check_with_exit_5(worker_env: dict[str, str],
                                               tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[worker]\nstate_dir = "{tmp_path / "state"}"\n')
    result = check(worker_env, config, "--no-emhub")
    assert result.returncode == 5, result.stdout
    assert "FAIL plugin broken: failed: import failed" in result.stdout
    assert "ok plugin echo" in result.stdout


def test_disabled_broken_plugin_passes(worker_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[worker]\nstate_dir = "{tmp_path / "state"}"\n'
                      '[plugins]\ndisable = ["broken"]\n')
    result = check(worker_env, config, "--no-emhub")
    assert result.returncode == 0, result.stdout
    assert "plugin broken: disabled by configuration" in result.stdout


def test_bad_config_names_file_and_key(worker_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[emhub]\ntimeout = "soon"\n')
    result = check(worker_env, config)
    assert result.returncode == 3
    assert f"FAIL configuration: {config}: emhub.timeout: expected" in result.stdout


def test_unknown_key_and_unused_pin_fail(worker_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[worker]\nstate_dir = "{tmp_path}"\nnmae = "typo"\n'
                      '[plugins]\ndisable = ["broken"]\npins = { echoo = "echo" }\n')
    result = check(worker_env, config, "--no-emhub")
    assert result.returncode == 3
    assert f"{config}: worker.nmae: unknown key" in result.stdout
    assert "FAIL plugin pins: echoo = echo: no such claim" in result.stdout


def test_a_file_with_a_typo_gets_one_verdict_not_ok_then_fail(
        worker_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[worker]\nstate_dir = "{tmp_path}"\n[emhub]\npasword_file = "x"\n'
                      '[wroker]\nname = "krios01"\n[plugins]\ndisable = ["broken"]\n')
    result = check(worker_env, config, "--no-emhub")
    assert result.returncode == 3, result.stdout
    assert "ok configuration" not in result.stdout
    assert result.stdout.splitlines()[:2] == [
        f"FAIL configuration: {config}: emhub.pasword_file: unknown key "
        "(did you mean 'password_file'?)",
        f"FAIL configuration: {config}: unknown section [wroker] (did you mean [worker]?)"]


def test_check_lists_the_keys_of_each_plugin(worker_env: dict[str, str],
                                              tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[worker]\nstate_dir = "{tmp_path}"\n[plugins]\ndisable = ["broken"]\n')
    result = check(worker_env, config, "--no-emhub")
    output = result.stdout.splitlines()
    start = next(i for i, line in enumerate(output) if line.startswith("ok plugin frames-"))
    assert output[start].endswith("[plugins.frames-monitor] settings:")
    below = list(itertools.takewhile(lambda line: line.startswith("    "), output[start + 1:]))
    keys = sorted(line.split()[0] for line in below)
    assert keys == ["allowed_roots", "expect_mount", "heartbeat", "hot_window", "min_period",
                    "movie_suffixes", "period", "root", "scan_processes", "scan_threads",
                    "usage_step"]
    assert "    period (number of seconds = 30.0, more than 0, task arg too): seconds " \
        "between two scans (never below min_period)" in output


def test_unwritable_state_folder(worker_env: dict[str, str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = tmp_path / "c.toml"
    config.write_text(f'[worker]\nstate_dir = "{blocker / "state"}"\n'
                      '[plugins]\ndisable = ["broken"]\n')
    result = check(worker_env, config, "--no-emhub")
    assert result.returncode == 1 and "FAIL state folder" in result.stdout


def test_no_emhub_configured(worker_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[worker]\nstate_dir = "{tmp_path}"\n[plugins]\ndisable = ["broken"]\n')
    result = check(worker_env, config)
    assert result.returncode == 3 and "FAIL EMhub: no EMhub configured" in result.stdout
