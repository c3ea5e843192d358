"""Worker configuration: one TOML file, environment overrides, per-plugin sections.

Where the file comes from, first match wins: ``--config``, ``$EMWORKER_CONFIG``,
``$XDG_CONFIG_HOME/emworker/config.toml`` (``~/.config/...``), ``/etc/emworker/config.toml``.
No file at all is fine: defaults and environment variables apply.

Sections: ``[worker]``, ``[emhub]``, ``[plugins]`` (``disable``, ``pins``, ``strict``) and one
table per plugin, ``[plugins.<plugin name>]``, handed only to that plugin. Every value
remembers where it came from (``emworker config show --sources``); secrets are masked.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from ._compat import tomllib
from .errors import ConfigError

_PLUGIN_KEYS = {"disable", "pins", "strict"}

#: section -> key -> (expected type(s), default). ``None`` default: unset.
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "worker": {
        "name": ((str,), None),                 # EMhub's config:hosts key; default: hostname
        "max_tasks": ((int,), 16),              # tasks running at once on this host
        "max_tasks_per_name": ((dict,), {}),    # e.g. {"session" = 4}
        "grace_period": ((int, float), 30),     # seconds handlers get to stop on SIGTERM
        "min_interval": ((int, float), 5),      # floor on every handler's waits, seconds
        "state_dir": ((str,), None),            # where `emworker status` reads the state file
        "log_level": ((str,), "INFO"),
    },
    "emhub": {
        "url": ((str,), None),
        "user": ((str,), None),
        "password": ((str,), None),
        "password_file": ((str,), None),
        "verify": ((bool, str), True),          # TLS: true, false, or a CA bundle path
        "timeout": ((int, float), 30),          # seconds, every call but the long poll
        "poll_timeout": ((int, float), 90),     # read timeout of get_new_tasks (> 60 s)
        "pending_recheck": ((int, float), 60),  # seconds between get_pending_tasks checks
        "retry_max_delay": ((int, float), 60),  # backoff cap
    },
    "plugins": {
        "disable": ((list,), []),
        "pins": ((dict,), {}),                  # {"task" or "task:action" = "plugin"}
        "strict": ((bool,), False),             # a failed plugin stops start-up
    },
}

#: Environment overrides (the first three are the stock EMhub client's own variables).
ENV_VARS: dict[tuple[str, str], str] = {
    ("emhub", "url"): "EMHUB_SERVER_URL",
    ("emhub", "user"): "EMHUB_USER",
    ("emhub", "password"): "EMHUB_PASSWORD",
    ("emhub", "password_file"): "EMHUB_PASSWORD_FILE",
    ("emhub", "verify"): "EMWORKER_TLS_VERIFY",
    ("worker", "name"): "EMWORKER_NAME",
    ("worker", "max_tasks"): "EMWORKER_MAX_TASKS",
    ("worker", "log_level"): "EMWORKER_LOG_LEVEL",
    ("worker", "state_dir"): "EMWORKER_STATE_DIR",
    ("worker", "min_interval"): "EMWORKER_MIN_INTERVAL",
    ("plugins", "disable"): "EMWORKER_DISABLE_PLUGINS",
    ("plugins", "strict"): "EMWORKER_STRICT_PLUGINS",
}

SECRET_KEYS = {("emhub", "password")}


def candidate_paths(env: Mapping[str, str]) -> list[Path]:
    """The places a config file is looked for, in order (after ``--config``)."""
    paths = []
    if env.get("EMWORKER_CONFIG"):
        paths.append(Path(env["EMWORKER_CONFIG"]))
    xdg = env.get("XDG_CONFIG_HOME") or (str(Path(env["HOME"]) / ".config")
                                         if env.get("HOME") else "")
    if xdg:
        paths.append(Path(xdg) / "emworker" / "config.toml")
    paths.append(Path("/etc/emworker/config.toml"))
    return paths


def _from_env(raw: str, types: tuple[type, ...], var: str) -> Any:
    if list in types:
        return [item.strip() for item in raw.split(",") if item.strip()]
    if bool in types:
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        if str in types:
            return raw
        raise ConfigError(f"${var}: expected true/false, got {raw!r}")
    if int in types or float in types:
        try:
            return int(raw) if int in types and raw.strip().lstrip("-").isdigit() \
                else float(raw)
        except ValueError:
            raise ConfigError(f"${var}: expected a number, got {raw!r}") from None
    return raw


@dataclass
class Config:
    """The effective configuration and where each value came from."""

    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    path: Optional[Path] = None
    #: unknown keys, as "file: section.key" lines (logged by the CLI, errors in `check`)
    unknown: list[str] = field(default_factory=list)

    def get(self, section: str, key: str) -> Any:
        return self.values.get(section, {}).get(key)

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.values.get(name, {}))

    def plugin_section(self, plugin: str) -> dict[str, Any]:
        """The ``[plugins.<plugin>]`` table (empty when absent)."""
        return dict(self.values.get("plugins", {}).get("config", {}).get(plugin, {}))

    def masked(self) -> dict[str, dict[str, Any]]:
        """All values with secrets replaced by ``"********"`` (for display)."""
        out: dict[str, dict[str, Any]] = {}
        for section, table in self.values.items():
            out[section] = {k: ("********" if (section, k) in SECRET_KEYS and v else v)
                            for k, v in table.items()}
        return out


def load_config(path: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """Read the configuration; :class:`ConfigError` names the file and key on a bad value."""
    env = os.environ if env is None else env
    config = Config()
    for section, keys in SCHEMA.items():
        config.values[section] = {}
        for key, (_types, default) in keys.items():
            config.values[section][key] = default
            config.sources[f"{section}.{key}"] = "default"
    config.values["plugins"]["config"] = {}

    file_path: Optional[Path] = Path(path) if path is not None else None
    if file_path is None:
        file_path = next((p for p in candidate_paths(env) if p.is_file()), None)
    if file_path is not None:
        _merge_file(config, file_path)

    for (section, key), var in ENV_VARS.items():
        if env.get(var, "") != "":
            config.values[section][key] = _from_env(env[var], SCHEMA[section][key][0], var)
            config.sources[f"{section}.{key}"] = f"env ${var}"
    _check_min_interval(config)
    return config


def _check_min_interval(config: Config) -> None:
    """The floor must be a real, non-negative number of seconds (0 switches it off)."""
    value = config.values["worker"]["min_interval"]
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{config.sources['worker.min_interval']}: worker.min_interval: "
                          f"expected seconds >= 0, got {value!r}")


def _merge_file(config: Config, path: Path) -> None:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    config.path = path
    for section, table in data.items():
        if section not in SCHEMA:
            config.unknown.append(f"{path}: unknown section [{section}]")
            continue
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        for key, value in table.items():
            where = f"{path}: {section}.{key}"
            if section == "plugins" and key not in _PLUGIN_KEYS:
                if not isinstance(value, dict):
                    raise ConfigError(f"{where}: expected a [plugins.{key}] table or one of "
                                      f"{sorted(_PLUGIN_KEYS)}")
                config.values["plugins"]["config"][key] = value
                config.sources[f"plugins.{key}"] = f"file {path}"
                continue
            if key not in SCHEMA[section]:
                config.unknown.append(f"{where}: unknown key")
                continue
            types = SCHEMA[section][key][0]
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                names = " or ".join(t.__name__ for t in types)
                raise ConfigError(f"{where}: expected {names}, got {value!r}")
            config.values[section][key] = value
            config.sources[f"{section}.{key}"] = f"file {path}"
