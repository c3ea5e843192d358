"""Typos in ``[plugins.<name>]`` tables: a table for no installed plugin, undeclared keys.

Plugins declare their keys with the ``emworker_plugin_settings`` hook; the core checks
the tables here, once, for ``emworker run`` (warnings) and ``emworker check`` (failures).
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Iterable

from .plugins import STATUS_DISABLED

if TYPE_CHECKING:
    from .config import Config
    from .plugins import PluginSet


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def plugin_table_problems(config: Config, plugins: PluginSet) -> list[str]:
    """One line per problem, naming the file and the key."""
    where = str(config.path) if config.path else "configuration"
    tables = config.values.get("plugins", {}).get("config", {})
    problems = []
    for name, table in sorted(tables.items()):
        info = plugins.infos.get(name)
        if info is None:
            installed = sorted(plugins.infos)
            problems.append(f"{where}: [plugins.{name}]: no plugin {name!r} is installed"
                            f"{_did_you_mean(name, installed)}; installed: "
                            f"{', '.join(installed) or 'none'}")
            continue
        declared = None if info.status == STATUS_DISABLED else plugins.declared_settings(name)
        if declared is None:
            continue  # nothing declared (or not loaded): nothing to check against
        for key in sorted(table):
            if key not in declared:
                known = sorted(declared)
                problems.append(f"{where}: plugins.{name}.{key}: unknown key"
                                f"{_did_you_mean(key, known)}; {name} reads: "
                                f"{', '.join(known) or 'no settings'}")
    return problems
