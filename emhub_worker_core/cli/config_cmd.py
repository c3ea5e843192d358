"""``emworker config show [--sources]``: the effective configuration, secrets masked."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import prepare


def add_parser(commands: Any) -> None:
    config = commands.add_parser("config", help="the effective configuration")
    sub = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    sub.required = True
    show = sub.add_parser("show", help="print the configuration (secrets masked)")
    show.add_argument("--sources", action="store_true", help="say where each value came from")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=cmd_show)


def cmd_show(args: argparse.Namespace) -> int:
    import json

    config = prepare(args, refuse_typos=False)  # shows what a typo did
    values = config.masked()
    plugin_tables = values["plugins"].pop("config", {})
    if args.json:
        out: dict[str, Any] = {"file": str(config.path) if config.path else None,
                               "values": {**values, "plugin_config": plugin_tables}}
        if args.sources:
            out["sources"] = config.sources
        json.dump(out, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    print(f"# configuration file: {config.path or '(none)'}")
    for section, table in values.items():
        print(f"\n[{section}]")
        for key, value in table.items():
            where = f"  # {config.sources.get(f'{section}.{key}', '?')}" if args.sources else ""
            print(f"{key} = {json.dumps(value, default=str)}{where}")
    for plugin, table in plugin_tables.items():
        where = f"  # {config.sources.get(f'plugins.{plugin}', '?')}" if args.sources else ""
        print(f"\n[plugins.{plugin}]{where}")
        for key, value in table.items():
            print(f"{key} = {json.dumps(value, default=str)}")
    return 0
