"""``emworker status``: what the running worker is doing, from its state file (no EMhub call).

Exit codes (listed with the others in :mod:`emhub_worker_core.ops.exit_codes`): 0 running, 8
running but the last successful poll is old (EMhub out of reach?), 9 not running, 10 no
state file or one that is not emworker's. They differ from every other code the command
can end with (2 bad command line, 3 bad configuration), so a script cannot mistake one
for the other.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..ops import exit_codes
from .common import prepare

OK, WARNING, CRITICAL, UNKNOWN = (exit_codes.OK, exit_codes.STATUS_STALE,
                                  exit_codes.STATUS_STOPPED, exit_codes.STATUS_UNKNOWN)


def add_parser(commands: Any) -> None:
    status = commands.add_parser(
        "status", help="what the running worker is doing",
        epilog="Exit codes: 0 running; 8 running, but the last poll is old; 9 not running; "
               "10 no usable state file; 3 bad configuration.")
    status.add_argument("--json", action="store_true", help="print the state file as JSON")
    status.add_argument("--stale-after", type=float, default=180, metavar="SECONDS",
                        help="last poll older than this is a warning (default 180)")
    status.set_defaults(func=cmd_status)


def read_state_file(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The state, or ``None`` and why not (missing, unreadable, corrupt, not emworker's)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, "no state file: is the worker running with this configuration?"
    except IsADirectoryError:
        return None, "is a folder, not a state file"
    except UnicodeDecodeError:
        return None, "not an emworker state file (not text)"
    except OSError as exc:
        return None, f"cannot read the state file: {exc.strerror}"
    try:
        data = json.loads(text)
    except ValueError:
        return None, "the state file is corrupt (not JSON); it is rewritten when the " \
                     "worker runs"
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
        return None, "not an emworker state file (no process id in it)"
    return data, ""


def judge(state: dict[str, Any] | None, stale_after: float,
          why_none: str = "no state file: is the worker running with this configuration?",
          lock: tuple[str, int | None] = ("absent", None)) -> tuple[int, str]:
    """The verdict on a state file; ``lock`` is :func:`~..runlock.lock_state` of its folder,
    which decides whether the worker lives (a process id alone may have been reused)."""
    from ..ops.state_file import age, pid_alive

    held, lock_pid = lock
    if state is None:
        if held == "held":
            return UNKNOWN, f"running (pid {lock_pid}), but it has written no state file yet"
        return UNKNOWN, why_none
    alive = held == "held" or held == "absent" and pid_alive(state.get("pid"))
    if not alive:
        why = "is gone" if not pid_alive(state.get("pid")) else "no longer holds its lock"
        return CRITICAL, f"not running (pid {state.get('pid')} {why})"
    connection = state.get("connection") or {}
    failing = connection.get("state") == "failing"
    if not state.get("ready") and failing:  # EMhub down since start-up: say so
        down_for = age(connection.get("since")) or 0.0
        return WARNING, (f"running, connecting to EMhub for {down_for:.0f} s "
                         f"({connection.get('attempts')} failed call(s)); last error: "
                         f"{connection.get('last_error')}")
    # A long poll returns only every ~60 s: until the first one does, connecting counts.
    poll_age = age(state.get("last_poll") or state.get("ready"))
    if state.get("ready") and (poll_age is None or poll_age > stale_after):
        since = "never" if poll_age is None else f"{poll_age:.0f} s ago"
        return WARNING, f"running, but the last successful poll was {since}"
    tasks = state.get("tasks")
    return OK, f"running: {len(tasks) if isinstance(tasks, list) else 0} task(s)"


def _seconds_since(value: Any, now: float, suffix: str = "") -> str:
    return f"{now - value:.0f} s{suffix}" if isinstance(value, (int, float)) else "-"


def task_rows(state: dict[str, Any], now: float) -> list[tuple[str, ...]]:
    """One row per task of the state file; a field it lacks shows as ``-``."""
    tasks = state.get("tasks")
    rows: list[tuple[str, ...]] = []
    for task in tasks if isinstance(tasks, list) else []:
        if not isinstance(task, dict):
            continue
        last_event = task.get("last_event")
        rows.append((str(task.get("id", "-")), str(task.get("name", "-")),
                     str(task.get("plugin", "-")), _seconds_since(task.get("started"), now),
                     _seconds_since(task.get("last_event_time"), now, " ago"),
                     ", ".join(map(str, last_event)) if isinstance(last_event, dict) else ""))
    return rows


def cmd_status(args: argparse.Namespace) -> int:
    from ..ops.state_file import STATE_FILE, worker_state_dir

    config = prepare(args)
    directory = worker_state_dir(config)
    from ..ops.run_lock import lock_state

    state, why_none = read_state_file(directory / STATE_FILE)
    code, verdict = judge(state, args.stale_after, why_none, lock_state(directory))
    if args.json:
        json.dump({"status": code, "verdict": verdict, "state": state}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return code
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Off a terminal (a script, a monitoring check, a pipe) nothing may be cut to fit 80
    # columns: a task id or plugin name shown as "1796297911…" is useless there.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 100_000)
    console.print(f"{directory / STATE_FILE}: {verdict}", markup=False)
    if state:
        table = Table()
        for column in ("task", "name", "plugin", "running for", "last event", "keys"):
            table.add_column(column)
        import time

        for row in task_rows(state, time.time()):
            table.add_row(*(Text(cell) for cell in row))  # task data is never markup
        console.print(table)
    return code
