"""The ``[emhub]`` settings, validated: what the client and the task source are built from.

Keys, defaults and environment variables are declared once, in
:data:`emhub_worker_core.ops.config.SECTIONS`; the configuration loader applies them. This
module only checks the values (URL shape, numbers above 0, a CA bundle that exists, a
readable password file) and turns them into :class:`EMhubSettings`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Union
from urllib.parse import urlparse

from ...contract.errors import ConfigError
from ...ops.config import SECTIONS, apply_env

log = logging.getLogger("emworker.emhub")

#: EMhub blocks ``get_new_tasks`` for 60 s; a shorter read timeout abandons polls that
#: may still receive a task (only the pending re-check finds it then).
SERVER_POLL_BLOCK = 60.0

#: The defaults of the ``[emhub]`` section, read from the one declaration.
DEFAULTS: dict[str, Any] = {name: key.default for name, key in SECTIONS["emhub"].items()}


@dataclass(frozen=True)
class EMhubSettings:
    """Validated connection settings. ``repr`` never shows the password."""

    url: str
    user: str
    password: str = field(repr=False)
    verify: Union[bool, str] = DEFAULTS["verify"]
    timeout: float = float(DEFAULTS["timeout"])
    poll_timeout: float = float(DEFAULTS["poll_timeout"])
    pending_recheck: float = float(DEFAULTS["pending_recheck"])
    retry_max_delay: float = float(DEFAULTS["retry_max_delay"])

    def endpoint(self, name: str) -> str:
        return f"{self.url}/api/{name}"


def _number(section: Mapping[str, Any], key: str) -> float:
    value = section.get(key)
    if value is None:
        return float(DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"emhub.{key}: expected a number of seconds, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"emhub.{key}: expected a number of seconds, got {value!r}") from None
    if not number > 0:
        raise ConfigError(f"emhub.{key}: must be more than 0 seconds, got {value!r}")
    return number


def _verify(value: Any) -> Union[bool, str]:
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes", "1", "on"):
            return True
        if low in ("false", "no", "0", "off"):
            return False
        if not Path(value).exists():
            raise ConfigError(f"emhub.verify: CA bundle {value} does not exist")
        return value
    raise ConfigError(f"emhub.verify: expected true, false or a CA bundle path, got {value!r}")


def _read_password_file(path: str) -> str:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"emhub.password_file: cannot read {path}: {exc.strerror}") from None
    # Only the first line counts: files made with `echo` end with a newline.
    lines = text.splitlines()
    password = lines[0] if lines else ""
    if not password:
        raise ConfigError(f"emhub.password_file: {path} is empty")
    return password


def load_settings(section: Mapping[str, Any],
                  env: Mapping[str, str] | None = None) -> EMhubSettings:
    """Validate ``[emhub]``; :class:`ConfigError` names the key.

    ``section`` is normally ``Config.section("emhub")``, the environment already applied.
    Give ``env`` only for a raw table (tests, benchmarks): the loader's own
    :func:`~emhub_worker_core.ops.config.apply_env` then applies it, the same way.
    """
    merged: dict[str, Any] = dict(section)
    if env is not None:
        apply_env("emhub", merged, env)
    url = str(merged.get("url") or "").strip().rstrip("/")
    if not url:
        raise ConfigError("emhub.url: not set (config [emhub] url or $EMHUB_SERVER_URL)")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"emhub.url: expected http(s)://host[:port], got {url!r}")
    if url.endswith("/api"):
        url = url[: -len("/api")]
    user = str(merged.get("user") or "").strip()
    if not user:
        raise ConfigError("emhub.user: not set (config [emhub] user or $EMHUB_USER)")
    if merged.get("password"):
        password = str(merged["password"])
    elif merged.get("password_file"):
        password = _read_password_file(str(merged["password_file"]))
    else:
        raise ConfigError("emhub.password: not set (password, password_file, "
                          "$EMHUB_PASSWORD or $EMHUB_PASSWORD_FILE)")
    settings = EMhubSettings(
        url=url, user=user, password=password, verify=_verify(merged.get("verify")),
        timeout=_number(merged, "timeout"), poll_timeout=_number(merged, "poll_timeout"),
        pending_recheck=_number(merged, "pending_recheck"),
        retry_max_delay=_number(merged, "retry_max_delay"))
    if parsed.scheme == "http" and parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
        log.warning("EMhub at %s is plain http: the password travels unencrypted", url)
    if settings.verify is False:
        log.warning("TLS certificate verification is off for %s", url)
    if settings.poll_timeout <= SERVER_POLL_BLOCK:
        log.warning("emhub.poll_timeout %.0f s is not above EMhub's %.0f s long poll: "
                    "abandoned polls can swallow tasks, which only the pending re-check "
                    "(every %.0f s) recovers", settings.poll_timeout, SERVER_POLL_BLOCK,
                    settings.pending_recheck)
    return settings
