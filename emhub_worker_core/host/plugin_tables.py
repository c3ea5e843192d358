"""Typos in ``[plugins.<name>]`` tables: a table for no installed plugin, undeclared keys.

Plugins declare their keys with the ``emworker_plugin_settings`` hook; the core checks
the tables here, once (and, for a typed declaration, the values, by the rules each task
is read with). ``emworker check`` fails on every problem; ``emworker run`` refuses an
unknown key or a bad value of an installed plugin (a typo must not silently change what
the plugin does) and only warns about a table for a plugin not installed here (one configuration
file may serve hosts with different plugins).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, NamedTuple

from ..contract.errors import ConfigError
from ..contract.plugin_settings import parse_settings
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
        answer, declared = (None, None) if info.status == STATUS_DISABLED \
            else plugins.declaration(name)
        if declared is None:
            continue  # nothing declared (or not loaded): nothing to check against
        value_problem = _value_problem(answer, table, name, where)
        if value_problem:
            problems.append(TableProblem(value_problem, True))
        for key in sorted(table):
            if key not in declared:
                known = sorted(declared)
                problems.append(TableProblem(
                    f"{where}: plugins.{name}.{key}: unknown key{did_you_mean(key, known)}; "
                    f"{name} reads: {', '.join(known) or 'no settings'}", True))
    return problems


def _value_problem(declaration: Any, table: Mapping[str, Any], name: str,
                   where: str) -> str | None:
    """A typed declaration's verdict on the table's values, by the rules a task meets."""
    if isinstance(declaration, Mapping):
        return None  # an old-style declaration: names only
    try:
        parse_settings(declaration, table, plugin=name, where=where)
    except ConfigError as exc:
        return str(exc)
    return None


def plugin_table_problems(config: Config, plugins: PluginSet) -> list[str]:
    """Every problem as one line naming the file and the key."""
    return [problem.line for problem in table_problems(config, plugins)]
