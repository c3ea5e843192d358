"""``emworker``: the command line. Exceptions become exit codes here, and only here."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable, Optional, Sequence

from .. import __version__, exitcodes
from ..errors import EmworkerError
from . import check_cmd, config_cmd, plugins_cmd, run_cmd, status_cmd

log = logging.getLogger("emworker")

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emworker", description="Plugin-based worker host for EMhub.",
        epilog="Exit codes: " + "; ".join(f"{code} {text}" for code, text
                                          in exitcodes.DESCRIPTIONS.items()))
    parser.add_argument("--version", action="version", version=f"emworker {__version__}")
    parser.add_argument("-c", "--config", metavar="FILE",
                        help="configuration file (default: $EMWORKER_CONFIG, "
                             "~/.config/emworker/config.toml, /etc/emworker/config.toml)")
    parser.add_argument("--log-level", metavar="LEVEL", help="DEBUG, INFO, WARNING, ERROR")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    run_cmd.add_parser(commands)
    plugins_cmd.add_parser(commands)
    status_cmd.add_parser(commands)
    config_cmd.add_parser(commands)
    check_cmd.add_parser(commands)
    _accept_global_options_everywhere(parser)
    return parser


def _accept_global_options_everywhere(parser: argparse.ArgumentParser) -> None:
    """Let ``emworker run --config FILE`` mean ``emworker --config FILE run``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                sub.add_argument("-c", "--config", metavar="FILE", default=argparse.SUPPRESS,
                                 help="configuration file (same as before the command)")
                sub.add_argument("--log-level", metavar="LEVEL", default=argparse.SUPPRESS,
                                 help=argparse.SUPPRESS)
                _accept_global_options_everywhere(sub)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Command = args.func
    try:
        return command(args)
    except EmworkerError as exc:
        code = exitcodes.exit_code_for(exc)
        log.error("%s", exc)
        print(f"emworker: error: {exc}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        return exitcodes.FORCED
    except BrokenPipeError:  # `emworker ... | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exitcodes.OK


def entry_point() -> None:
    sys.exit(main())
