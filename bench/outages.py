"""Outage figures on a real EMhub 1.0.2 + Redis (started here, like the test fixture does).

One ``emworker run`` subprocess (default settings) is measured through:

1. Recovery after EMhub and after Redis restarts (``--runs`` each, alternating): the
   server is killed, stays down ``--down`` seconds, is started again; the figure is the
   time from the server answering again to the first stored event of a task created at
   that instant (the event's Redis stream id gives the server's clock; one machine, one
   clock). Baseline, same run: the same create_task -> first event time with no outage.
2. While down: requests per second (EMhub: connections counted by a listener that holds
   its port, as ``bench/fleet.py`` does; Redis: failed calls the worker's recovery line
   counts, over the outage it reports) and log lines written during the outage.
3. SIGTERM during an EMhub outage, with two tasks running: time to exit and exit code.
   Baseline, same run: SIGTERM with EMhub up.
4. Requests/s while EMhub is down (the listener), with 2 and with 16 running echo tasks.
   Baseline, same run: the same worker with no task.
5. After a restart (SIGTERM, start again, a task created 2 s after it connected): create
   -> first event, both read off Redis stream ids. Baseline, interleaved: the same, for a
   task created a few seconds later to the same, still running worker.
6. SIGTERM with two tasks running while EMhub hangs (stopped with SIGSTOP; a listener
   that accepts and never answers), grace period 10 s: time to exit and exit code.
   Baseline: part 3's SIGTERM with EMhub up.

Run: ``.venv/bin/python bench/outages.py [--runs 5] [--down 20] [--parts 1,3,4,5,6]``
(part 2 comes with part 1).
Timings move with machine load: say how loaded the machine was when quoting them.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from emworker_testkit.emhub_admin import AdminClient  # noqa: E402
from emworker_testkit.emhub_server import EMhubServer  # noqa: E402
from emworker_testkit.emhub_worker import WorkerProcess, wait_for  # noqa: E402

from tests.conftest import pip_install_target  # noqa: E402
from tests.harness.fleet import AttemptCounter, hanging  # noqa: E402

WORKER = "bench.test"
STOP_WORKER = "core-6.test"
RESTART_WORKER = "restart.test"
PROBE_WORKER = "probe.test"
HANG_WORKER = "hang.test"
HANG_GRACE = 10.0
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
    attempts = None
    if what == "emhub":
        server.stop_emhub(kill=True)
        with AttemptCounter(server.port) as counter:
            time.sleep(down)
        attempts = len(counter.attempts)
    else:
        server.stop_redis(kill=True)
        time.sleep(down)
    lines_down = len(worker.log_text().splitlines()) - lines_before
    (server.start_emhub if what == "emhub" else server.start_redis)()
    up = time.time()
    with server.admin() as admin:
        recovery = first_event(admin, up)
    found = wait_for(lambda: RECOVERED.findall(worker.log_text())[recovered_before:],
                     "recovery line", log=worker.log)
    seconds, calls = found[0]
    rate = attempts / down if attempts is not None else int(calls) / float(seconds)
    return recovery, rate, lines_down


def running_echo(admin: AdminClient, worker: str, count: int, log: Path) -> list[str]:
    tasks = [admin.create_task(worker, "echo", {"repeat": 10_000, "interval": 0.5})
             for _ in range(count)]
    wait_for(lambda: all(len(admin.task_history(t)) >= 2 for t in tasks), "running",
             timeout=120, log=log)
    return tasks


def down_rate(server: EMhubServer, env: dict[str, str], tmp: Path, tasks: int,
              down: float) -> float:
    """Requests/s the listener counts while EMhub is down, ``tasks`` echo tasks running."""
    config = server.worker_config(tmp / f"probe-{tasks}.toml", PROBE_WORKER)
    with server.admin() as admin:
        with WorkerProcess(config, env, tmp / f"probe-{tasks}.log") as worker:
            worker.wait_connected()
            ids = running_echo(admin, PROBE_WORKER, tasks, worker.log)
            server.stop_emhub(kill=True)
            try:
                with AttemptCounter(server.port) as counter:
                    time.sleep(down)
            finally:
                server.start_emhub()
    with server.admin() as admin:
        for task in ids:
            admin.delete_task(PROBE_WORKER, task)
    return len(counter.attempts) / down


def after_restart(server: EMhubServer, env: dict[str, str], tmp: Path, runs: int
                  ) -> list[tuple[float, float]]:
    """Per run: (create -> first event of a task created 2 s after a restart, the same for
    a task created 3 s later, the baseline). Each run's new process is the next run's old
    one, so each restart leaves exactly one long poll open on EMhub, which the first task
    takes."""
    config = server.worker_config(tmp / "restart.toml", RESTART_WORKER)
    worker = WorkerProcess(config, env, tmp / "restart-0.log").start()
    figures = []
    try:
        worker.wait_connected()
        with server.admin() as admin:
            for run in range(1, runs + 1):
                time.sleep(1)  # in its long poll, which EMhub keeps after the process is gone
                worker.stop()
                worker = WorkerProcess(config, env, tmp / f"restart-{run}.log").start()
                worker.wait_connected()
                pair = []
                for pause in (2.0, 3.0):  # 2 s after the restart; then the baseline
                    time.sleep(pause)
                    task = admin.create_task(RESTART_WORKER, "echo", {"repeat": 1,
                                                                      "interval": 0})
                    events = wait_for(lambda: admin.task_events(task),  # noqa: B023
                                      "first event", timeout=300, interval=0.05,
                                      log=worker.log)
                    pair.append((ms(events[0][0]) - ms(task)) / 1000)
                figures.append((pair[0], pair[1]))
    finally:
        worker.stop()
    return figures


def hang_exit(server: EMhubServer, env: dict[str, str], tmp: Path, how: str
              ) -> tuple[float, int]:
    config = server.worker_config(tmp / f"hang-{how}.toml", HANG_WORKER,
                                  worker_settings={"grace_period": HANG_GRACE})
    with server.admin() as admin:
        with WorkerProcess(config, env, tmp / f"hang-{how}.log") as worker:
            tasks = running_echo(admin, HANG_WORKER, 2, worker.log)
            with hanging(server, how):
                time.sleep(3)  # the tasks' next calls are sent, and hang
                code, took = worker.sigterm_timed()
    with server.admin() as admin:
        for task in tasks:
            admin.delete_task(HANG_WORKER, task)
    return took, code


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
        code, took = worker.sigterm_timed()
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
    parser.add_argument("--parts", default="1,3,4,5,6",
                        help="comma-separated parts to run (2 comes with 1)")
    args = parser.parse_args()
    parts = {int(p) for p in args.parts.split(",")}
    server = EMhubServer.create()
    server.start()
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            # The echo example plugin is not in the venv: install it as the tests do.
            pip_install_target(tmp / "site", REPO / "contrib" / "echo-plugin")
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("EMHUB_", "EMWORKER_"))}
            env["PYTHONPATH"] = os.pathsep.join([str(tmp / "site"), str(REPO)])
            if 1 in parts:
                recovery(server, env, tmp, args.runs, args.down)
            stop_up = sigterm_exit(server, env, tmp, during_outage=False)
            if 3 in parts:
                stop_down = sigterm_exit(server, env, tmp, during_outage=True)
                print(f"3. SIGTERM with two tasks running: during an EMhub outage exit "
                      f"{stop_down[1]} after {stop_down[0]:.2f} s; with EMhub up (baseline) "
                      f"exit {stop_up[1]} after {stop_up[0]:.2f} s; ratio "
                      f"{stop_down[0] / stop_up[0]:.2f}", flush=True)
            if 4 in parts:
                rates = {n: down_rate(server, env, tmp, n, args.down) for n in (0, 2, 16)}
                print(f"4. requests/s while EMhub was down {args.down:.0f} s (listener): "
                      f"2 tasks {rates[2]:.2f}, 16 tasks {rates[16]:.2f}; no task "
                      f"(baseline) {rates[0]:.2f}; ratio 16 tasks / none "
                      f"{rates[16] / max(rates[0], 1e-9):.2f}", flush=True)
            if 5 in parts:
                pairs = after_restart(server, env, tmp, args.runs)
                restart = statistics.median(p[0] for p in pairs)
                steady = statistics.median(p[1] for p in pairs)
                print(f"5. create -> first event 2 s after a worker restart, {len(pairs)} "
                      f"runs: median {restart:.2f} s, max {max(p[0] for p in pairs):.2f} s; "
                      f"worker running (baseline) median {steady:.2f} s; ratio "
                      f"{restart / steady:.1f}", flush=True)
            if 6 in parts:
                for how in ("stopped", "listener"):
                    took, code = hang_exit(server, env, tmp, how)
                    print(f"6. SIGTERM with two tasks running, EMhub hanging ({how}), grace "
                          f"{HANG_GRACE:g} s: exit {code} after {took:.2f} s; EMhub up "
                          f"(baseline) exit {stop_up[1]} after {stop_up[0]:.2f} s; ratio "
                          f"{took / stop_up[0]:.1f}", flush=True)
    finally:
        server.stop()


def recovery(server: EMhubServer, env: dict[str, str], tmp: Path, runs: int,
             down: float) -> None:
    """Parts 1 and 2: recovery after EMhub and Redis outages, interleaved with a baseline."""
    results: dict[str, list[tuple[float, float, int]]] = {"emhub": [], "redis": []}
    config = server.worker_config(tmp / "bench.toml", WORKER)
    with WorkerProcess(config, env, tmp / "worker.log") as worker:
        worker.wait_connected()
        baseline = []
        for _ in range(runs):  # interleaved: a quiet task, then each outage
            time.sleep(1.0)  # back in the long poll
            with server.admin() as admin:
                baseline.append(first_event(admin, time.time()))
            for what in ("emhub", "redis"):
                results[what].append(outage(server, worker, what, down))
                print(f"  {what} outage: recovery, requests/s, log lines: "
                      f"{results[what][-1]}", flush=True)
    base = statistics.median(baseline)
    print(f"baseline create_task -> first event, no outage, median of {len(baseline)}: "
          f"{base:.2f} s")
    for what, found in results.items():
        recoveries = [r for r, _, _ in found]
        print(f"1. recovery after a {down:.0f} s {what} outage, {len(found)} runs: "
              f"median {statistics.median(recoveries):.2f} s, max {max(recoveries):.2f} s "
              f"(all: {', '.join(f'{r:.2f}' for r in recoveries)}); ratio to baseline "
              f"{statistics.median(recoveries) / base:.1f}")
        print(f"2. while {what} was down: requests/s "
              f"{', '.join(f'{q:.2f}' for _, q, _ in found)}; log lines "
              f"{', '.join(str(n) for _, _, n in found)}", flush=True)


if __name__ == "__main__":
    main()
