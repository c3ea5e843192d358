"""``emworker``: the command line. Exceptions become exit codes here, and only here.

Start-up is kept cheap: the subcommand modules import what they need (rich, the host,
the EMhub client) inside their commands, so ``--version`` and ``plugins list`` pay only
for what they use.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Optional, Sequence

from ..contract.version import __version__
from ..ops import exit_codes
from . import check_cmd, config_cmd, plugins_cmd, run_cmd, status_cmd

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emworker", description="Plugin-based worker host for EMhub.",
        epilog="Exit codes: " + "; ".join(f"{code} {text}" for code, text
                                          in exit_codes.DESCRIPTIONS.items()))
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


def report(exc: BaseException) -> int:
    """The error boundary: one line on stderr, and the exit code for ``exc``.

    A user's mistake (our own errors, a file that cannot be opened) is one line and no
    traceback; anything else is a bug, so its traceback follows the line.
    """
    code = exit_codes.exit_code_for(exc)
    if isinstance(exc, KeyboardInterrupt):
        print("emworker: interrupted", file=sys.stderr)
        return code
    print(f"emworker: error: {exit_codes.error_line(exc)}", file=sys.stderr)
    if not exit_codes.is_users_mistake(exc):
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return code


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with argparse's own message on a bad line
    command: Command = args.func
    try:
        return command(args)
    except BrokenPipeError:  # `emworker ... | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exit_codes.OK
    except (Exception, KeyboardInterrupt) as exc:
        return report(exc)


def entry_point() -> None:
    sys.exit(main())
