"""``emworker run``: the worker itself, against EMhub or a local tasks file."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import sys
from typing import IO, Any

from .. import __version__, exitcodes
from ..board import TaskBoard
from ..config import Config
from ..errors import ConfigError
from ..host import Host
from ..logs import stderr_is_terminal
from ..plugins import PluginSet
from ..routing import Router
from ..service import ServiceMonitor
from ..sources.base import TaskSource
from ..sources.local import LocalTaskSource
from ..state import worker_name, worker_state_dir
from .common import plugins_from, prepare

log = logging.getLogger("emworker")


def add_parser(commands: Any) -> None:
    run = commands.add_parser("run", help="run the worker")
    run.add_argument("--local", metavar="TASKS.toml",
                     help="run the tasks of this TOML file instead of asking EMhub")
    run.add_argument("--events", metavar="PATH",
                     help="with --local: write events as JSON lines here (default: stdout)")
    run.add_argument("--iterations", metavar="N", type=int,
                     help="run at most N process() steps per task (local runs always end)")
    run.set_defaults(func=cmd_run)


def worker_specs(plugins: PluginSet, router: Router) -> dict[str, Any]:
    """What this worker tells EMhub about itself (machine facts are added by the source)."""
    specs: dict[str, Any] = {
        "emworker": __version__, "python": platform.python_version(),
        "plugins": {i.name: i.version for i in plugins.listing() if i.status == "ok"},
        "tasks": router.task_names(),
    }
    for result in plugins.pm.hook.emworker_worker_specs():
        if isinstance(result, dict):
            specs.setdefault("plugin_specs", {}).update(result)
    return specs


def open_source(args: argparse.Namespace, config: Config, stack: contextlib.ExitStack
                ) -> TaskSource:
    if args.local:
        events: IO[str] | None = None
        if args.events:
            events = open(args.events, "a", encoding="utf-8")
        return LocalTaskSource(args.local, events=events)
    if args.events:
        raise ConfigError("--events goes with --local (EMhub keeps the events of its tasks)")
    emhub = config.section("emhub")
    if not emhub.get("url"):
        raise ConfigError("no EMhub configured: set [emhub] url in the configuration or "
                          "EMHUB_SERVER_URL, or run a local tasks file with --local")
    from ..emhub import open_source as open_emhub
    name = worker_name(config)
    source: TaskSource = open_emhub(emhub, name, os.environ)
    return source


def cmd_run(args: argparse.Namespace) -> int:
    if args.iterations is not None and args.iterations < 1:
        raise ConfigError("--iterations must be at least 1")
    config = prepare(args)
    plugins, router = plugins_from(config)
    with contextlib.ExitStack() as stack:
        source = open_source(args, config, stack)
        host = Host(router, plugin_config=config.plugin_section,
                    max_tasks=config.get("worker", "max_tasks"),
                    max_tasks_per_name=config.get("worker", "max_tasks_per_name"),
                    grace_period=float(config.get("worker", "grace_period")),
                    max_iterations=args.iterations)
        if args.local and stderr_is_terminal() and args.events:
            host.observers.append(stack.enter_context(TaskBoard()))
        if not args.local:  # a local run must not overwrite the service's state file
            host.tickers.append(ServiceMonitor(worker_state_dir(config), worker_name(config)))
        host.install_signal_handlers()
        code = host.run(source, worker_specs(plugins, router))
    if code != exitcodes.OK:
        print(f"emworker: {exitcodes.DESCRIPTIONS.get(code, 'exit')} (exit {code})",
              file=sys.stderr)
    return code
