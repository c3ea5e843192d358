"""What several commands share: reading the configuration and loading the plugins."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Config
    from ..plugins import PluginSet
    from ..routing import Router


def prepare(args: argparse.Namespace) -> Config:
    """Load the configuration, set up logging, report unknown keys."""
    import logging

    from ..config import load_config
    from ..logs import setup_logging

    config = load_config(args.config)
    setup_logging(args.log_level or config.get("worker", "log_level") or "INFO")
    for line in config.unknown:
        logging.getLogger("emworker").warning("%s", line)
    return config


def plugins_from(config: Config, *, strict: bool | None = None) -> tuple[PluginSet, Router]:
    """Load every installed plugin; in strict mode a failed plugin is a start-up error.

    Typos in ``[plugins.<name>]`` tables (no such plugin, undeclared keys) are logged."""
    import logging

    from ..errors import PluginError
    from ..plugin_config import plugin_table_problems
    from ..plugins import load_plugins

    plugins, router = load_plugins(disabled=config.get("plugins", "disable") or [],
                                   pins=config.get("plugins", "pins") or {})
    strict = config.get("plugins", "strict") if strict is None else strict
    failed = plugins.failed()
    if strict and failed:
        raise PluginError("plugins failed to load (strict mode): " +
                          "; ".join(f"{i.name}: {i.error}" for i in failed))
    for line in plugin_table_problems(config, plugins):
        logging.getLogger("emworker").warning("%s", line)
    return plugins, router
