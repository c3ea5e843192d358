"""Many workers, one EMhub: N ``emworker run`` processes against one real EMhub + Redis.

Everything runs on 127.0.0.1: EMhub 1.0.2 (the harness's flask dev server, one process,
threaded) and Redis, started here exactly as the test fixture starts them, with N extra
worker names in ``config:hosts``; each worker has its own name, config, state folder and
log, and the echo plugin (contrib/echo-plugin, pip-installed into a temporary folder).

Scenarios (``--scenarios``, run in this order, 4 last because it stops the fleet):

1. idle fleet for ``--idle-seconds`` (120): requests/s at EMhub, counted from werkzeug's
   request lines in EMhub's log; EMhub's and Redis's CPU and RSS and each worker's (median,
   max), from /proc. Baseline, same run: EMhub's capacity, the get_pending_tasks calls/s
   it answers for 4 back-to-back clients (``--capacity-seconds``, 10; 0 skips); the ratio
   says how much of EMhub the idle fleet uses.
2. one echo task to every worker at once: create -> first event latency, median and p95
   (both instants read off Redis stream ids: one clock, no polling error).
3. EMhub killed (SIGKILL) for ``--outage-seconds`` (20) while every worker runs a task
   (``--tasks-per-worker`` tasks, 1 by default):
   connection attempts/s during the outage (a listener holds EMhub's port and counts
   connections: nothing logs while EMhub is down, and a worker logs one line per outage),
   requests/s in the first ``--after-seconds`` (10) after EMhub is back (from its log, by
   the second each answer was sent), time from EMhub back to every worker's first event of
   a task created then, tasks lost (must be 0).
4. SIGTERM to the whole fleet while each runs a task: exit codes, time to exit against the
   grace period, every running task left pending (last event ``interrupted``).

The whole run is bounded (``--max-seconds``); on that bound, an error or Ctrl-C, every
worker and both servers it started are stopped. Figures are printed per scenario and in a
table at the end. Run:

    .venv/bin/python bench/fleet.py [--workers 30] [--scenarios 1,2,3,4] [--idle-seconds 120]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Optional

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from emworker_testkit.emhub_server import EMhubServer  # noqa: E402

from tests.harness.fleet import Fleet, fleet_names  # noqa: E402
from tests.harness.fleet_scenarios import burst, idle, outage, shutdown  # noqa: E402
from tests.harness.plugins_site import echo_plugin_env  # noqa: E402

Rows = list[tuple[str, str]]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)


class Bounded(Exception):
    """The run hit ``--max-seconds`` or was asked to stop."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=30)
    parser.add_argument("--scenarios", default="1,2,3,4",
                        help="comma-separated subset of 1,2,3,4")
    parser.add_argument("--idle-seconds", type=float, default=120)
    parser.add_argument("--capacity-seconds", type=float, default=10)
    parser.add_argument("--outage-seconds", type=float, default=20)
    parser.add_argument("--tasks-per-worker", type=int, default=1,
                        help="scenario 3: long tasks each worker runs across the outage")
    parser.add_argument("--after-seconds", type=int, default=10)
    parser.add_argument("--grace", type=float, default=None,
                        help="the workers' [worker] grace_period (default: theirs, 30 s)")
    parser.add_argument("--retry-max-delay", type=float, default=None,
                        help="the workers' [emhub] retry_max_delay (default: theirs, 60 s)")
    parser.add_argument("--max-seconds", type=float, default=1800,
                        help="bound on the whole run; everything is stopped after it")
    parser.add_argument("--keep", action="store_true", help="keep the workers' folder")
    args = parser.parse_args(argv)
    try:
        args.scenarios = sorted({int(s) for s in args.scenarios.split(",") if s.strip()})
    except ValueError:
        parser.error(f"--scenarios: expected numbers like 1,3, got {args.scenarios!r}")
    if not set(args.scenarios) <= {1, 2, 3, 4} or not args.scenarios:
        parser.error("--scenarios: choose from 1, 2, 3, 4")
    if args.workers < 1:
        parser.error("--workers: at least 1")
    if args.tasks_per_worker < 1:
        parser.error("--tasks-per-worker: at least 1")
    return args


def print_rows(title: str, rows: Rows) -> None:
    print(f"\n{title}", flush=True)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}", flush=True)


def print_table(results: list[tuple[str, Rows]]) -> None:
    left = max(len(title) for title, _ in results)
    middle = max(len(name) for _, rows in results for name, _ in rows)
    print("\n" + "=" * 100 + f"\n{'scenario':<{left}}  {'figure':<{middle}}  value")
    for title, rows in results:
        for i, (name, value) in enumerate(rows):
            print(f"{title if i == 0 else '':<{left}}  {name:<{middle}}  {value}")
    print("=" * 100, flush=True)


def run(args: argparse.Namespace, folder: Path) -> list[tuple[str, Rows]]:
    names = fleet_names(args.workers)
    env = echo_plugin_env(folder / "site", folder)
    worker_settings: dict[str, Any] = {}
    if args.grace is not None:
        worker_settings["grace_period"] = args.grace
    emhub_settings: dict[str, Any] = {}
    if args.retry_max_delay is not None:
        emhub_settings["retry_max_delay"] = args.retry_max_delay
    results: list[tuple[str, Rows]] = []
    server = EMhubServer.create(extra_workers=names, tag="fleet")
    try:
        server.start()
        print(f"EMhub {server.url} (run folder {server.run_dir}); starting {len(names)} "
              f"workers in {folder}", flush=True)
        with Fleet(server, names, folder / "workers", env, worker_settings=worker_settings,
                   emhub_settings=emhub_settings) as fleet:
            began = time.monotonic()
            fleet.wait_connected()
            print(f"all {len(names)} workers connected after "
                  f"{time.monotonic() - began:.1f} s", flush=True)
            steps: dict[int, tuple[str, Callable[[], Any]]] = {
                1: (f"1 idle {args.idle_seconds:g} s", lambda: idle(
                    server, fleet, args.idle_seconds, args.capacity_seconds)),
                2: ("2 task to every worker", lambda: burst(server, fleet)),
                3: (f"3 EMhub down {args.outage_seconds:g} s, {args.tasks_per_worker} "
                    f"task(s) per worker", lambda: outage(
                        server, fleet, args.outage_seconds, args.after_seconds,
                        tasks_per_worker=args.tasks_per_worker)),
                4: ("4 SIGTERM to the fleet", lambda: shutdown(
                    server, fleet, args.grace if args.grace is not None else 30.0)),
            }
            for number in args.scenarios:
                title, step = steps[number]
                rows = step().figures()
                print_rows(f"{title} ({len(names)} workers)", rows)
                results.append((title, rows))
    finally:
        server.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def bounded(signum: int, _frame: Optional[FrameType]) -> None:
        for other in STOP_SIGNALS:  # a second ^C must not cut the clean-up short
            signal.signal(other, signal.SIG_IGN)
        raise Bounded("--max-seconds reached" if signum == signal.SIGALRM
                      else f"stopped by {signal.Signals(signum).name}")
    for signum in STOP_SIGNALS:
        signal.signal(signum, bounded)
    signal.alarm(int(args.max_seconds))
    folder = Path(tempfile.mkdtemp(prefix="emworker-fleet-"))
    try:
        results = run(args, folder)
    except Bounded as exc:
        print(f"\nfleet bench stopped early ({exc}); everything it started is stopped",
              file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"workers' configs, logs and state: {folder}", file=sys.stderr)
    print_table(results)
    print(f"(machine: {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
