"""Outage figures on a real EMhub 1.0.2 + Redis (started here, like the test fixture does).

One ``emworker run`` subprocess (default settings) is measured through:

1. Recovery after EMhub and after Redis restarts (``--runs`` each, alternating): the
   server is killed, stays down ``--down`` seconds, is started again; the figure is the
   time from the server answering again to the first stored event of a task created at
   that instant (the event's Redis stream id gives the server's clock; one machine, one
   clock). Baseline, same run: the same create_task -> first event time with no outage.
2. While down: requests per second (failed calls the worker's recovery line counts,
   over the outage it reports) and log lines written during the outage.
3. SIGTERM during an EMhub outage, with two tasks running: time to exit and exit code.
   Baseline, same run: SIGTERM with EMhub up.

Run: ``.venv/bin/python bench/outages.py [--runs 5] [--down 20]``
Timings move with machine load: say how loaded the machine was when quoting them.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import pip_install_target  # noqa: E402
from tests.harness.emhub_admin import AdminClient  # noqa: E402
from tests.harness.emhub_server import EMhubServer  # noqa: E402
from tests.harness.emhub_worker import WorkerProcess, wait_for  # noqa: E402

WORKER = "bench.test"
STOP_WORKER = "core-6.test"
RECOVERED = re.compile(r"EMhub answers again after ([\d.]+) s and (\d+) failed call")


def ms(stream_id: str) -> int:
    return int(stream_id.split("-")[0])


def first_event(admin: AdminClient, since: float) -> float:
    """Create an echo task; seconds from ``since`` (wall clock) to its first event."""
    task_id = admin.create_task(WORKER, "echo", {"repeat": 1, "interval": 0})
    events = wait_for(lambda: admin.task_events(task_id), "first event", timeout=300,
                      interval=0.05)
    assert "message" in events[0][1], f"not the echo plugin's event: {events[0][1]}"
    return ms(events[0][0]) / 1000 - since


def outage(server: EMhubServer, worker: WorkerProcess, what: str, down: float
           ) -> tuple[float, float, int]:
    """One outage: (recovery seconds, requests/s while down, log lines while down)."""
    lines_before = len(worker.log_text().splitlines())
    recovered_before = len(RECOVERED.findall(worker.log_text()))
    (server.stop_emhub if what == "emhub" else server.stop_redis)(kill=True)
    time.sleep(down)
    lines_down = len(worker.log_text().splitlines()) - lines_before
    (server.start_emhub if what == "emhub" else server.start_redis)()
    up = time.time()
    with server.admin() as admin:
        recovery = first_event(admin, up)
    found = wait_for(lambda: RECOVERED.findall(worker.log_text())[recovered_before:],
                     "recovery line", log=worker.log)
    seconds, calls = found[0]
    return recovery, int(calls) / float(seconds), lines_down


def sigterm_exit(server: EMhubServer, env: dict[str, str], tmp: Path, during_outage: bool
                 ) -> tuple[float, int]:
    config = server.worker_config(tmp / f"stop-{during_outage}.toml", STOP_WORKER)
    with server.admin() as admin, \
            WorkerProcess(config, env, tmp / f"stop-{during_outage}.log") as worker:
        tasks = [admin.create_task(STOP_WORKER, "echo", {"repeat": 10_000, "interval": 0.2})
                 for _ in range(2)]
        wait_for(lambda: all(len(admin.task_history(t)) >= 2 for t in tasks), "running",
                 log=worker.log)
        if during_outage:
            server.stop_emhub(kill=True)
            worker.wait_log("EMhub call failed")
            time.sleep(3)  # the handlers are inside their update_task retries
        sent = time.monotonic()
        worker.signal(signal.SIGTERM)
        code = worker.wait(120)
        took = time.monotonic() - sent
        if during_outage:
            server.start_emhub()
    with server.admin() as admin:
        for task in tasks:
            admin.delete_task(STOP_WORKER, task)
    return took, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--down", type=float, default=20.0)
    args = parser.parse_args()
    server = EMhubServer.create()
    server.start()
    results: dict[str, list[tuple[float, float, int]]] = {"emhub": [], "redis": []}
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            # The echo example plugin is not in the venv: install it as the tests do.
            pip_install_target(tmp / "site", REPO / "contrib" / "echo-plugin")
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("EMHUB_", "EMWORKER_"))}
            env["PYTHONPATH"] = os.pathsep.join([str(tmp / "site"), str(REPO)])
            config = server.worker_config(tmp / "bench.toml", WORKER)
            with WorkerProcess(config, env, tmp / "worker.log") as worker:
                worker.wait_connected()
                baseline = []
                for _ in range(args.runs):  # interleaved: a quiet task, then each outage
                    time.sleep(1.0)  # back in the long poll
                    with server.admin() as admin:
                        baseline.append(first_event(admin, time.time()))
                    for what in ("emhub", "redis"):
                        results[what].append(outage(server, worker, what, args.down))
                        print(f"  {what} outage: recovery, requests/s, log lines: "
                              f"{results[what][-1]}", flush=True)
            stop_up = sigterm_exit(server, env, tmp, during_outage=False)
            stop_down = sigterm_exit(server, env, tmp, during_outage=True)
    finally:
        server.stop()
    base = statistics.median(baseline)
    print(f"baseline create_task -> first event, no outage, median of {len(baseline)}: "
          f"{base:.2f} s")
    for what, runs in results.items():
        recoveries = [r for r, _, _ in runs]
        print(f"1. recovery after a {args.down:.0f} s {what} outage, {len(runs)} runs: "
              f"median {statistics.median(recoveries):.2f} s, max {max(recoveries):.2f} s "
              f"(all: {', '.join(f'{r:.2f}' for r in recoveries)}); ratio to baseline "
              f"{statistics.median(recoveries) / base:.1f}")
        print(f"2. while {what} was down: requests/s "
              f"{', '.join(f'{q:.2f}' for _, q, _ in runs)}; log lines "
              f"{', '.join(str(n) for _, _, n in runs)}")
    print(f"3. SIGTERM with two tasks running: during an EMhub outage exit {stop_down[1]} "
          f"after {stop_down[0]:.2f} s; with EMhub up (baseline) exit {stop_up[1]} after "
          f"{stop_up[0]:.2f} s; ratio {stop_down[0] / stop_up[0]:.2f}")


if __name__ == "__main__":
    main()
