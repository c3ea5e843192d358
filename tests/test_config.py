from pathlib import Path

import pytest

from emhub_worker_core.contract.errors import ConfigError
from emhub_worker_core.ops.config import load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_without_any_file(tmp_path: Path) -> None:
    config = load_config(env={"HOME": str(tmp_path)})
    assert config.path is None
    assert config.get("emhub", "verify") is True and config.get("emhub", "poll_timeout") > 60
    assert config.sources["emhub.url"] == "default"


def test_file_env_precedence_and_sources(tmp_path: Path) -> None:
    path = write(tmp_path, '[emhub]\nurl = "https://a"\nuser = "w"\npassword = "s3cret"\n'
                           '[worker]\nmax_tasks = 4\n[plugins]\ndisable = ["x"]\n'
                           '[plugins.frames-monitor]\nperiod = 5\n')
    config = load_config(path, env={"EMHUB_SERVER_URL": "https://b",
                                    "EMWORKER_DISABLE_PLUGINS": "y, z"})
    assert config.get("emhub", "url") == "https://b"
    assert config.sources["emhub.url"] == "env $EMHUB_SERVER_URL"
    assert config.sources["emhub.user"] == f"file {path}"
    assert config.get("plugins", "disable") == ["y", "z"]
    assert config.plugin_section("frames-monitor") == {"period": 5}
    assert config.plugin_section("other") == {}
    assert config.masked()["emhub"]["password"] == "********"
    assert "s3cret" not in repr(config.masked())


def test_config_file_from_environment_variable(tmp_path: Path) -> None:
    path = write(tmp_path, '[worker]\nname = "ws01"\n')
    assert load_config(env={"EMWORKER_CONFIG": str(path)}).get("worker", "name") == "ws01"


def test_unknown_keys_are_reported_with_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[emhub]\nurll = "x"\n[wrker]\na = 1\n')
    config = load_config(path, env={})
    assert config.unknown == [f"{path}: emhub.urll: unknown key (did you mean 'url'?)",
                              f"{path}: unknown section [wrker] (did you mean [worker]?)"]


@pytest.mark.parametrize("text, needle", [
    ('[worker]\nmax_tasks = "many"\n', "worker.max_tasks: expected int"),
    ('[emhub]\nurl = \n', "invalid TOML"),
    ('[plugins]\necho = 3\n', "plugins.echo: expected a [plugins.echo] table"),
    ('[plugins]\nstrict = "yes"\n', "plugins.strict: expected bool"),
])
def test_bad_values_name_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=None) as info:
        load_config(path, env={})
    assert needle in str(info.value) and str(path) in str(info.value)


def test_bad_environment_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="EMWORKER_STRICT_PLUGINS"):
        load_config(env={"EMWORKER_STRICT_PLUGINS": "maybe", "HOME": str(tmp_path)})
