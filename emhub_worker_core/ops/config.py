"""Worker configuration: one TOML file, environment overrides, per-plugin sections.

Where the file comes from, first match wins: ``--config``, ``$EMWORKER_CONFIG``,
``$XDG_CONFIG_HOME/emworker/config.toml`` (``~/.config/...``), ``/etc/emworker/config.toml``.
No file at all is fine: defaults and environment variables apply.

Sections: ``[worker]``, ``[emhub]``, ``[plugins]`` (``disable``, ``pins``, ``strict``) and one
table per plugin, ``[plugins.<plugin name>]``, handed only to that plugin. Every value
remembers where it came from (``emworker config show --sources``); secrets are masked.
"""

from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

from .._compat import tomllib
from ..contract.errors import ConfigError

_PLUGIN_KEYS = {"disable", "pins", "strict"}


@dataclass(frozen=True)
class Key:
    """One configuration key: its type(s), its default (``None``: unset) and its variable."""

    types: tuple[type, ...]
    default: Any = None
    env: Optional[str] = None
    minimum: Optional[float] = None  # numbers: the smallest value that can work


#: Every key of every section, once: the only place defaults and variables are written.
#: (``EMHUB_*`` are the stock EMhub client's own variables.)
SECTIONS: dict[str, dict[str, Key]] = {
    "worker": {
        "name": Key((str,), None, "EMWORKER_NAME"),       # EMhub's config:hosts key; hostname
        "max_tasks": Key((int,), 16, "EMWORKER_MAX_TASKS", 1),  # tasks running at once
        "max_tasks_per_name": Key((dict,), {}),           # e.g. {"session" = 4}
        "grace_period": Key((int, float), 30, None, 0),   # seconds handlers get on SIGTERM
        "min_interval": Key((int, float), 5, "EMWORKER_MIN_INTERVAL", 0),  # floor on waits
        "state_dir": Key((str,), None, "EMWORKER_STATE_DIR"),  # read by `emworker status`
        "log_level": Key((str,), "INFO", "EMWORKER_LOG_LEVEL"),
    },
    "emhub": {
        "url": Key((str,), None, "EMHUB_SERVER_URL"),
        "user": Key((str,), None, "EMHUB_USER"),
        "password": Key((str,), None, "EMHUB_PASSWORD"),
        "password_file": Key((str,), None, "EMHUB_PASSWORD_FILE"),
        "verify": Key((bool, str), True, "EMWORKER_TLS_VERIFY"),  # true, false, CA bundle
        "timeout": Key((int, float), 30),           # seconds, every call but the long poll
        "poll_timeout": Key((int, float), 90),      # read timeout of get_new_tasks (> 60 s)
        "pending_recheck": Key((int, float), 60),   # seconds between get_pending_tasks
        "retry_max_delay": Key((int, float), 60),   # backoff cap
    },
    "plugins": {
        "disable": Key((list,), [], "EMWORKER_DISABLE_PLUGINS"),
        "pins": Key((dict,), {}),                   # {"task" or "task:action" = "plugin"}
        "strict": Key((bool,), False, "EMWORKER_STRICT_PLUGINS"),  # a failed plugin stops
    },
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
    #: unknown sections and keys, as "file: section.key: unknown key" lines; every command
    #: but ``config show`` refuses them (:func:`refuse_unknown`), ``check`` lists them
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
    """Read the configuration; :class:`ConfigError` names the file and key on a bad value.

    Defaults, then the file, then the environment, each applied once, section by section.
    """
    env = os.environ if env is None else env
    file_path: Optional[Path] = Path(path) if path is not None else None
    if file_path is None:
        file_path = next((p for p in candidate_paths(env) if p.is_file()), None)
    data = read_toml(file_path) if file_path is not None else {}
    config = Config(path=file_path, values={section: {} for section in SECTIONS})
    # file order, so problems are reported in the order a reader meets them
    order = [name for name in data if name not in SECTIONS or isinstance(data[name], dict)]
    order += [name for name in SECTIONS if name not in data]
    for section in order:
        if section not in SECTIONS:
            close = did_you_mean(section, SECTIONS, "[{}]")
            config.unknown.append(f"{file_path}: unknown section [{section}]{close}")
            continue
        table = data.get(section, {})
        if section == "plugins":
            table = _split_plugin_tables(config, table, file_path)
        load_section(config, section, table, file_path, env)
    for section, table in data.items():
        if section in SECTIONS and not isinstance(table, dict):
            raise ConfigError(f"{file_path}: [{section}] must be a table")
    return config


def refuse_unknown(config: Config) -> None:
    """A typo never silently changes behaviour: an unknown section or key stops the command
    (exit 3), naming each one."""
    if config.unknown:
        raise ConfigError("; ".join(config.unknown))


def did_you_mean(word: str, choices: Iterable[str], form: str = "{!r}") -> str:
    """`` (did you mean 'period'?)`` for the closest choice, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {form.format(close[0])}?)" if close else ""


def load_section(config: Config, section: str, table: Mapping[str, Any],
                 path: Optional[Path], env: Mapping[str, str]) -> None:
    """The one loader of a section: defaults, the file's table, then its variables."""
    values: dict[str, Any] = {}
    for name, key in SECTIONS[section].items():
        values[name] = key.default
        config.sources[f"{section}.{name}"] = "default"
    for name, value in table.items():
        where = f"{path}: {section}.{name}"
        if name not in SECTIONS[section]:
            config.unknown.append(f"{where}: unknown key{did_you_mean(name, SECTIONS[section])}")
            continue
        types = SECTIONS[section][name].types
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"{where}: expected {names}, got {value!r}")
        values[name] = value
        config.sources[f"{section}.{name}"] = f"file {path}"
    for name, var in apply_env(section, values, env).items():
        config.sources[f"{section}.{name}"] = f"env ${var}"
    for name, key in SECTIONS[section].items():
        value = values[name]
        if key.minimum is not None and isinstance(value, (int, float)) \
                and not (math.isfinite(value) and value >= key.minimum):  # NaN, inf too
            where = config.sources[f"{section}.{name}"].replace("file ", "")
            raise ConfigError(f"{where}: {section}.{name}: must be at least {key.minimum:g}, "
                              f"got {value!r}")
    config.values.setdefault(section, {}).update(values)


def apply_env(section: str, values: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Apply the section's environment variables to ``values`` in place (the only place
    this happens); returns key -> variable for each value that came from the environment."""
    applied: dict[str, str] = {}
    for name, key in SECTIONS[section].items():
        if key.env and env.get(key.env, "") != "":
            values[name] = _from_env(env[key.env], key.types, key.env)
            applied[name] = key.env
    fix = _AFTER_ENV.get(section)
    if fix is not None:
        fix(values, applied)
    return applied


def _emhub_password_precedence(values: dict[str, Any], applied: Mapping[str, str]) -> None:
    """A password from the environment beats a password file from the file, and the
    other way round: the environment names what the admin means now."""
    if "password" in applied:
        values["password_file"] = None
    elif "password_file" in applied:
        values["password"] = None


_AFTER_ENV: dict[str, Callable[[dict[str, Any], Mapping[str, str]], None]] = {
    "emhub": _emhub_password_precedence}


def read_toml(path: str | os.PathLike[str], what: str = "configuration file") -> dict[str, Any]:
    """A TOML file's tables; every way it cannot be read is a :class:`ConfigError` in words
    (``what`` names the kind of file: configuration file, tasks file)."""
    try:
        with open(path, "rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a {what}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (TOML must be UTF-8)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _split_plugin_tables(config: Config, table: Mapping[str, Any],
                         path: Optional[Path]) -> dict[str, Any]:
    """Keep ``[plugins.<name>]`` tables aside (for their plugin); return the core's keys."""
    plugin_tables: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for name, value in table.items():
        if name in _PLUGIN_KEYS:
            own[name] = value
        elif isinstance(value, dict):
            plugin_tables[name] = value
            config.sources[f"plugins.{name}"] = f"file {path}"
        else:
            raise ConfigError(f"{path}: plugins.{name}: expected a [plugins.{name}] table "
                              f"or one of {sorted(_PLUGIN_KEYS)}")
    config.values.setdefault("plugins", {})["config"] = plugin_tables
    return own
