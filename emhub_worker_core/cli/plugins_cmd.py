"""``emworker plugins list [--json]``: every installed plugin and its status. Never crashes
on a broken plugin: that is what it is for."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, Sequence

from .common import plugins_from, prepare

if TYPE_CHECKING:
    from ..host.plugin_loader import PluginInfo, PluginSet


def add_parser(commands: Any) -> None:
    plugins = commands.add_parser("plugins", help="installed plugins")
    sub = plugins.add_subparsers(dest="plugins_command", metavar="SUBCOMMAND")
    sub.required = True
    listing = sub.add_parser("list", help="list plugins with their tasks and status")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    config = prepare(args, refuse_typos=False)  # a listing, even of a mistyped setup
    plugins, _router = plugins_from(config, strict=False, refuse_typos=False)
    infos = plugins.listing()
    if args.json:
        import json

        json.dump([{**i.as_json(), "settings": settings_json(plugins, i)} for i in infos],
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    columns = ("name", "distribution", "version", "tasks", "status", "error")
    rows = [(i.name, i.distribution or "-", i.version or "-", ", ".join(i.tasks) or "-",
             i.status, i.error or "") for i in infos]
    if not sys.stdout.isatty():  # a pipe or a log: plain columns, and no rich to import
        print_plain(columns, rows)
        return 0
    from rich.console import Console  # only a person at a terminal gets rich's table
    from rich.table import Table
    from rich.text import Text

    table = Table(title="emworker plugins")
    for column in columns:
        table.add_column(column, overflow="fold")
    colours = {"ok": "green", "failed": "red", "conflict": "yellow", "disabled": "dim"}
    for row in rows:
        # Text, never markup: names and errors come from plugins and may hold "[...]"
        cells = [Text(cell) for cell in row]
        cells[4].stylize(colours.get(row[4], "white"))
        table.add_row(*cells)
    Console(highlight=False).print(table)
    return 0


def settings_json(plugins: PluginSet, info: PluginInfo) -> list[dict[str, Any]] | None:
    """The plugin's declared settings (``None``: not loaded, or it declares none)."""
    from ..host.plugin_loader import STATUS_CONFLICT, STATUS_OK

    if info.status not in (STATUS_OK, STATUS_CONFLICT):
        return None
    settings = plugins.settings(info.name)
    return None if settings is None else [item.as_json() for item in settings.values()]


def print_plain(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Aligned columns, the last one unpadded: easy to read, to grep and to cut."""
    table = [list(columns), *map(list, rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        print("  ".join([*cells, row[-1]]).rstrip())
