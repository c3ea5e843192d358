"""``emworker status``: what the running worker is doing, from its state file (no EMhub call).

Exit codes follow the monitoring-plugin convention: 0 running and polling, 1 running but
the last poll is old (EMhub out of reach?), 2 not running, 3 no state to judge by.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from ..state import STATE_FILE, age, pid_alive, read_state, worker_state_dir
from .common import prepare

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3


def add_parser(commands: Any) -> None:
    status = commands.add_parser("status", help="what the running worker is doing")
    status.add_argument("--json", action="store_true", help="print the state file as JSON")
    status.add_argument("--stale-after", type=float, default=180, metavar="SECONDS",
                        help="last poll older than this is a warning (default 180)")
    status.set_defaults(func=cmd_status)


def judge(state: dict[str, Any] | None, stale_after: float) -> tuple[int, str]:
    if state is None:
        return UNKNOWN, "no state file: is the worker running with this configuration?"
    if not pid_alive(state.get("pid")):
        return CRITICAL, f"not running (pid {state.get('pid')} is gone)"
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
    return OK, f"running: {len(state.get('tasks', []))} task(s)"


def cmd_status(args: argparse.Namespace) -> int:
    config = prepare(args)
    directory = worker_state_dir(config)
    state = read_state(directory)
    code, verdict = judge(state, args.stale_after)
    if args.json:
        json.dump({"status": code, "verdict": verdict, "state": state}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return code
    console = Console()
    console.print(f"{directory / STATE_FILE}: {verdict}", markup=False)
    if state:
        table = Table()
        for column in ("task", "name", "plugin", "running for", "last event", "keys"):
            table.add_column(column)
        now = time.time()
        for task in state.get("tasks", []):
            last = task.get("last_event_time")
            table.add_row(task["id"], task["name"], task["plugin"],
                          f"{now - task['started']:.0f} s",
                          f"{now - last:.0f} s ago" if last else "-",
                          ", ".join(task.get("last_event") or {}))
        console.print(table)
    return code
