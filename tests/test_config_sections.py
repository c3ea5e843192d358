"""One declaration per key, one loader per section, environment applied once."""

from __future__ import annotations

from pathlib import Path

from emhub_worker_core.ops.config import SECTIONS, load_config
from emhub_worker_core.sources.emhub import settings as emhub_settings
from emhub_worker_core.sources.emhub.settings import EMhubSettings, load_settings


def test_emhub_defaults_come_from_the_one_declaration() -> None:
    declared = {name: key.default for name, key in SECTIONS["emhub"].items()}
    assert emhub_settings.DEFAULTS == declared
    plain = EMhubSettings(url="http://x", user="u", password="p")
    assert plain.timeout == declared["timeout"] and plain.poll_timeout == \
        declared["poll_timeout"] and plain.retry_max_delay == declared["retry_max_delay"]
    assert not hasattr(emhub_settings, "ENV")  # no second table of variables


def test_environment_is_applied_by_the_loader_and_the_settings_trust_it(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[emhub]\nurl = "http://127.0.0.1:5077"\nuser = "file-user"\n'
                    'password_file = "/nonexistent"\n')
    config = load_config(path, env={"EMHUB_USER": "env-user", "EMHUB_PASSWORD": "s3cret"})
    section = config.section("emhub")
    assert section["user"] == "env-user" and section["password_file"] is None
    assert config.sources["emhub.user"] == "env $EMHUB_USER"
    # the settings do not read the environment again: an empty env changes nothing
    settings = load_settings(section)
    assert (settings.user, settings.password) == ("env-user", "s3cret")


def test_a_password_file_from_the_environment_beats_a_password_in_the_file(
        tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    path = tmp_path / "c.toml"
    path.write_text('[emhub]\nurl = "http://127.0.0.1:5077"\nuser = "u"\npassword = "old"\n')
    config = load_config(path, env={"EMHUB_PASSWORD_FILE": str(secret)})
    assert config.get("emhub", "password") is None
    assert load_settings(config.section("emhub")).password == "from-file"


def test_problems_are_reported_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[emhub]\nurll = 1\n[wrker]\n[worker]\nnmae = "x"\n')
    assert load_config(path, env={}).unknown == [
        f"{path}: emhub.urll: unknown key (did you mean 'url'?)",
        f"{path}: unknown section [wrker] (did you mean [worker]?)",
        f"{path}: worker.nmae: unknown key (did you mean 'name'?)"]
