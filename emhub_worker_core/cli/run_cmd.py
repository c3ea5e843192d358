"""``emworker run``: the worker itself, against EMhub or a local tasks file."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Optional

from ..contract.errors import ConfigError, TaskError, UsageError
from ..contract.version import __version__
from ..ops import exit_codes
from .common import plugins_from, prepare

if TYPE_CHECKING:  # the host and the sources are imported when the worker runs
    from ..contract.task import Task
    from ..host.plugin_loader import PluginSet
    from ..host.routing import Router
    from ..ops.config import Config
    from ..sources.base import TaskSource


def add_parser(commands: Any) -> None:
    run = commands.add_parser("run", help="run the worker")
    run.add_argument("--local", metavar="TASKS.toml",
                     help="run the tasks of this TOML file instead of asking EMhub")
    run.add_argument("--events", metavar="PATH",
                     help="with --local: write events as JSON lines here (default: stdout)")
    run.add_argument("--iterations", metavar="N", type=_positive_int,
                     help="run at most N process() steps per task (local runs always end)")
    run.set_defaults(func=cmd_run)


def _positive_int(text: str) -> int:
    """``--iterations``: a whole number of at least 1 (argparse reports anything else)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _open_events(path: str) -> IO[str]:
    """The ``--events`` file, opened for appending; a path that cannot work is a usage error."""
    try:
        return open(path, "a", encoding="utf-8")
    except IsADirectoryError:
        raise UsageError(f"--events {path}: is a folder; give a file name") from None
    except FileNotFoundError:
        raise UsageError(f"--events {path}: folder {Path(path).parent} does not "
                         f"exist") from None
    except OSError as exc:
        raise UsageError(f"--events {path}: cannot write: {exc.strerror}") from None


def worker_specs(plugins: PluginSet, router: Router) -> dict[str, Any]:
    """What this worker tells EMhub about itself (machine facts are added by the source)."""
    import platform

    specs: dict[str, Any] = {
        "emworker": __version__, "python": platform.python_version(),
        "plugins": {i.name: i.version for i in plugins.listing() if i.status == "ok"},
        "tasks": router.task_names(),
    }
    plugin_specs = plugins.worker_specs()  # each plugin guarded on its own
    if plugin_specs:
        specs["plugin_specs"] = plugin_specs
    return specs


def open_source(args: argparse.Namespace, config: Config, stack: contextlib.ExitStack,
                router: Router | None = None) -> TaskSource:
    if args.local:
        from ..sources.local import LocalTaskSource
        # the tasks file is read (and checked) before the events file is created
        local = LocalTaskSource(args.local, events=None,
                                plugin_of=routed_plugin(router) if router else None)
        if args.events:
            local.writer.stream = _open_events(args.events)  # local.close() closes it
        return local
    if args.events:
        raise UsageError("--events goes with --local (EMhub keeps the events of its tasks)")
    emhub = config.section("emhub")
    if not emhub.get("url"):
        raise ConfigError("no EMhub configured: set [emhub] url in the configuration or "
                          "EMHUB_SERVER_URL, or run a local tasks file with --local")
    from ..ops.state_file import worker_name
    from ..sources.emhub import open_source as open_emhub

    name = worker_name(config)
    source: TaskSource = open_emhub(emhub, name)
    return source


def routed_plugin(router: Router) -> Callable[[Task], Optional[str]]:
    """The plugin a task goes to (the host resolves it the same way), or None."""
    def plugin_of(task: Task) -> Optional[str]:
        try:
            return router.resolve(task).plugin
        except TaskError:
            return None
    return plugin_of


def _lock_worker(stack: contextlib.ExitStack, state_dir: Path, worker: str) -> None:
    """Hold the worker's run lock until the command ends (AlreadyRunning: exit 11)."""
    import logging

    from ..ops.run_lock import hold_run_lock

    try:
        stack.enter_context(hold_run_lock(state_dir, worker))
    except OSError as exc:  # as before the lock: the worker runs, without the guard
        logging.getLogger("emworker.host").warning(
            "cannot lock the state folder %s (%s): a second worker %s would not be "
            "refused", state_dir, exc.strerror or exc, worker)


def cmd_run(args: argparse.Namespace) -> int:
    from ..host.board import TaskBoard
    from ..host.main_loop import Host
    from ..host.service_monitor import ServiceMonitor
    from ..ops.logs import stderr_is_terminal
    from ..ops.state_file import worker_name, worker_state_dir

    config = prepare(args)
    plugins, router = plugins_from(config)
    with contextlib.ExitStack() as stack:
        if not args.local:  # before anything is sent or written: one process per name
            _lock_worker(stack, worker_state_dir(config), worker_name(config))
        source = open_source(args, config, stack, router)
        host = Host(router, plugin_config=config.plugin_section,
                    max_tasks=config.get("worker", "max_tasks"),
                    max_tasks_per_name=config.get("worker", "max_tasks_per_name"),
                    grace_period=float(config.get("worker", "grace_period")),
                    max_iterations=args.iterations,
                    min_interval=float(config.get("worker", "min_interval")),
                    state_dir=worker_state_dir(config))
        if args.local and stderr_is_terminal() and args.events:
            host.observers.append(stack.enter_context(TaskBoard()))
        if not args.local:  # a local run must not overwrite the service's state file
            host.tickers.append(ServiceMonitor(worker_state_dir(config), worker_name(config)))
        host.install_signal_handlers()
        code = host.run(source, worker_specs(plugins, router))
    if code != exit_codes.OK:
        print(f"emworker: {exit_codes.DESCRIPTIONS.get(code, 'exit')} (exit {code})",
              file=sys.stderr)
    return code
