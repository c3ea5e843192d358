"""The [emhub] settings: defaults, the stock client's environment variables, password files."""

from __future__ import annotations

from pathlib import Path

import pytest

from emhub_worker_core.contract.errors import ConfigError
from emhub_worker_core.sources.emhub.settings import load_settings

BASE = {"url": "https://emhub.example/", "user": "bot", "password": "pw"}


def test_defaults() -> None:
    s = load_settings(BASE, {})
    assert (s.url, s.user, s.password) == ("https://emhub.example", "bot", "pw")
    assert s.verify is True
    assert (s.timeout, s.poll_timeout, s.pending_recheck, s.retry_max_delay) == \
        (30, 90, 60, 60)
    assert s.endpoint("login") == "https://emhub.example/api/login"


def test_environment_wins_over_the_file() -> None:
    env = {"EMHUB_SERVER_URL": "http://127.0.0.1:5000", "EMHUB_USER": "admin",
           "EMHUB_PASSWORD": "from-env"}
    s = load_settings(BASE, env)
    assert (s.url, s.user, s.password) == ("http://127.0.0.1:5000", "admin", "from-env")


def test_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    s = load_settings({**BASE, "password": None, "password_file": str(secret)}, {})
    assert s.password == "from-file"
    # the env's password file replaces the file's password; the env's password wins over all
    assert load_settings(BASE, {"EMHUB_PASSWORD_FILE": str(secret)}).password == "from-file"
    assert load_settings(BASE, {"EMHUB_PASSWORD_FILE": str(secret),
                                "EMHUB_PASSWORD": "direct"}).password == "direct"


@pytest.mark.parametrize("value, expected", [(True, True), (False, False), ("false", False),
                                             ("true", True)])
def test_verify(value: object, expected: object) -> None:
    assert load_settings({**BASE, "verify": value}, {}).verify == expected


def test_verify_ca_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert load_settings({**BASE, "verify": str(bundle)}, {}).verify == str(bundle)


@pytest.mark.parametrize("change, message", [
    ({"url": None}, "emhub.url: not set"),
    ({"url": "emhub.example"}, "expected http(s)://"),
    ({"user": ""}, "emhub.user: not set"),
    ({"password": None}, "emhub.password: not set"),
    ({"password": None, "password_file": "/nonexistent/pw"}, "cannot read /nonexistent/pw"),
    ({"timeout": 0}, "emhub.timeout: must be more than 0"),
    ({"poll_timeout": "soon"}, "emhub.poll_timeout: expected a number"),
    ({"verify": "/nonexistent/ca.pem"}, "CA bundle /nonexistent/ca.pem does not exist"),
])
def test_bad_settings_name_the_key(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings({**BASE, **change}, {})


def test_a_short_poll_timeout_is_allowed_with_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    load_settings({**BASE, "poll_timeout": 30}, {})
    assert "abandoned polls can swallow tasks" in caplog.text
