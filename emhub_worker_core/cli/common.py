"""What several commands share: reading the configuration and loading the plugins."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..host.plugin_loader import PluginSet
    from ..host.routing import Router
    from ..ops.config import Config


def prepare(args: argparse.Namespace, *, refuse_typos: bool = True) -> Config:
    """Load the configuration and set up logging. An unknown section or key is a
    :class:`ConfigError` (exit 3); ``refuse_typos=False`` (``config show``) logs it."""
    import logging

    from ..ops.config import load_config, refuse_unknown
    from ..ops.logs import setup_logging

    config = load_config(args.config)
    if refuse_typos:
        refuse_unknown(config)
    setup_logging(args.log_level or config.get("worker", "log_level") or "INFO")
    for line in config.unknown:
        logging.getLogger("emworker").warning("%s", line)
    return config


def plugins_from(config: Config, *, strict: bool | None = None,
                 refuse_typos: bool = True) -> tuple[PluginSet, Router]:
    """Load every installed plugin; in strict mode a failed plugin is a start-up error.

    A key an installed plugin does not declare is a :class:`ConfigError`; a
    ``[plugins.<name>]`` table for a plugin not installed here is logged (both are only
    logged with ``refuse_typos=False``: ``plugins list`` shows what is installed)."""
    import logging

    from ..contract.errors import ConfigError, PluginError
    from ..host.plugin_loader import load_plugins
    from ..host.plugin_tables import table_problems

    plugins, router = load_plugins(disabled=config.get("plugins", "disable") or [],
                                   pins=config.get("plugins", "pins") or {})
    strict = config.get("plugins", "strict") if strict is None else strict
    failed = plugins.failed()
    if strict and failed:
        raise PluginError("plugins failed to load (strict mode): " +
                          "; ".join(f"{i.name}: {i.error}" for i in failed))
    problems = table_problems(config, plugins)
    typos = [problem.line for problem in problems if problem.installed]
    if typos and refuse_typos:
        raise ConfigError("; ".join(typos))
    for problem in problems:
        logging.getLogger("emworker").warning("%s", problem.line)
    return plugins, router
