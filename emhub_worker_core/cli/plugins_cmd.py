"""``emworker plugins list [--json]``: every installed plugin and its status. Never crashes
on a broken plugin: that is what it is for."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .common import plugins_from, prepare


def add_parser(commands: Any) -> None:
    plugins = commands.add_parser("plugins", help="installed plugins")
    sub = plugins.add_subparsers(dest="plugins_command", metavar="SUBCOMMAND")
    sub.required = True
    listing = sub.add_parser("list", help="list plugins with their tasks and status")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    config = prepare(args)
    plugins, _router = plugins_from(config, strict=False)
    infos = plugins.listing()
    if args.json:
        json.dump([i.as_json() for i in infos], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console  # only a table needs rich
    from rich.table import Table
    from rich.text import Text

    table = Table(title="emworker plugins")
    for column in ("name", "distribution", "version", "tasks", "status", "error"):
        table.add_column(column, overflow="fold")
    colours = {"ok": "green", "failed": "red", "conflict": "yellow", "disabled": "dim"}
    for info in infos:
        # Text, never markup: names and errors come from plugins and may hold "[...]"
        table.add_row(Text(info.name), Text(info.distribution or "-"),
                      Text(info.version or "-"), Text(", ".join(info.tasks) or "-"),
                      Text(info.status, style=colours.get(info.status, "white")),
                      Text(info.error or ""))
    console = Console(highlight=False)
    if not console.is_terminal:  # a pipe or a log: do not squeeze the table to 80 columns
        console = Console(width=200, highlight=False)
    console.print(table)
    return 0
