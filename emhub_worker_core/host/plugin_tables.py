"""Typos in ``[plugins.<name>]`` tables: a table for no installed plugin, undeclared keys.

Plugins declare their keys with the ``emworker_plugin_settings`` hook; the core checks
the tables here, once. ``emworker check`` fails on every problem; ``emworker run`` refuses
an unknown key of an installed plugin (a typo must not silently change what the plugin
does) and only warns about a table for a plugin not installed here (one configuration
file may serve hosts with different plugins).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..ops.config import did_you_mean
from .plugin_loader import STATUS_DISABLED

if TYPE_CHECKING:
    from ..ops.config import Config
    from .plugin_loader import PluginSet


class TableProblem(NamedTuple):
    line: str          # names the file, the table and the key
    installed: bool    # the table's plugin is installed here (the key is the typo)


def table_problems(config: Config, plugins: PluginSet) -> list[TableProblem]:
    """One problem per unknown table or key, in table-name order."""
    where = str(config.path) if config.path else "configuration"
    tables = config.values.get("plugins", {}).get("config", {})
    problems = []
    for name, table in sorted(tables.items()):
        info = plugins.infos.get(name)
        if info is None:
            installed = sorted(plugins.infos)
            problems.append(TableProblem(
                f"{where}: [plugins.{name}]: no plugin {name!r} is installed"
                f"{did_you_mean(name, installed)}; installed: {', '.join(installed) or 'none'}",
                False))
            continue
        declared = None if info.status == STATUS_DISABLED else plugins.declared_settings(name)
        if declared is None:
            continue  # nothing declared (or not loaded): nothing to check against
        for key in sorted(table):
            if key not in declared:
                known = sorted(declared)
                problems.append(TableProblem(
                    f"{where}: plugins.{name}.{key}: unknown key{did_you_mean(key, known)}; "
                    f"{name} reads: {', '.join(known) or 'no settings'}", True))
    return problems


def plugin_table_problems(config: Config, plugins: PluginSet) -> list[str]:
    """Every problem as one line naming the file and the key."""
    return [problem.line for problem in table_problems(config, plugins)]
