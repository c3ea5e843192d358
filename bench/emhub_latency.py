"""EMhub figures on a real EMhub 1.0.2 + Redis (started here, like the test fixture does).

1. Task latency: create_task -> the worker's first event, median of N (default 20).
   Both instants are Redis stream ids (the task id and its first history entry), so the
   figure is read off one clock, with no polling error. Baseline, same run: a bare
   protocol loop (one requests.Session, get_new_tasks -> update_task, no host, no plugin).
2. HTTP connections opened for 100 events of one task through the real host and source.
   Baseline: the same 100 update_task calls without a session (``requests.post``), as a
   client without connection reuse makes them.
3. Recovery after an EMhub restart: EMhub stopped and started while the worker (a real
   ``emworker run`` subprocess, default settings) waits in its long poll; time from EMhub
   answering again to the worker's first event of a task created at that instant.
   Baseline: how long EMhub itself was down.

Every figure times the ``echo`` plugin (``contrib/echo-plugin``, pip-installed into a
folder of the run's own for the worker process and this one); a first event that is not
echo's message (``no handler``, say) stops the bench rather than being timed.

Run: ``.venv/bin/python bench/emhub_latency.py [--tasks 20] [--restarts 5]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from emhub_worker_core.host.main_loop import Host  # noqa: E402
from emhub_worker_core.host.plugin_loader import load_plugins  # noqa: E402
from emhub_worker_core.sources.emhub import open_source  # noqa: E402
from tests.harness.emhub_admin import AdminClient, mint_worker_token  # noqa: E402
from tests.harness.emhub_server import EMhubServer  # noqa: E402
from tests.harness.emhub_worker import WorkerProcess, wait_for  # noqa: E402

WORKER = "bench.test"
# Part 2 runs under another name: the stopped worker's last long poll is still held by
# EMhub and would swallow the first task created for bench.test.
CONN_WORKER = "core-1.test"


def ms(stream_id: str) -> int:
    return int(stream_id.split("-")[0])


def install_echo(target: Path) -> Path:
    """The echo plugin installed for real into ``target`` (its entry point included)."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--disable-pip-version-check", "--target",
                    str(target), str(REPO / "contrib" / "echo-plugin")], check=True)
    return target


def echoed(events: list[tuple[str, dict[str, str]]], task_id: str) -> str:
    """The first event's stream id, once it is the handler's message, not an error."""
    if "message" not in events[0][1]:
        raise SystemExit(f"task {task_id}: first event {events[0][1]} is not echo's: "
                         "the worker has no echo handler, the figures would be wrong")
    return events[0][0]


def first_event_latency(admin: AdminClient, task_id: str) -> float:
    events = wait_for(lambda: admin.task_events(task_id), f"first event of {task_id}")
    return (ms(echoed(events, task_id)) - ms(task_id)) / 1000


def latencies(admin: AdminClient, count: int, worker: str) -> list[float]:
    result = []
    for i in range(count):
        task_id = admin.create_task(worker, "echo", {"message": str(i), "repeat": 1,
                                                     "interval": 0})
        result.append(first_event_latency(admin, task_id))
        wait_for(lambda: admin.task_status(worker, task_id) == "done", "done")  # noqa: B023
        time.sleep(0.2)  # let the worker go back to its long poll
    return result


def bare_loop(server: EMhubServer, stop: threading.Event) -> None:
    """The baseline worker: the protocol and nothing else."""
    token = mint_worker_token(WORKER, server.secret_key)
    http = requests.Session()
    while not stop.is_set():
        reply = http.post(f"{server.url}/api/get_new_tasks", json={"attrs": {"token": token}},
                          timeout=(10, 90)).json()
        for task in reply.get("tasks", []):
            for event in ({"message": "bare", "count": 1}, {"done": 1}):
                http.post(f"{server.url}/api/update_task", timeout=10, json={
                    "attrs": {"token": token, "task_id": task["id"], "event": event}})


def connections_for_100_events(server: EMhubServer, admin: AdminClient) -> tuple[int, int]:
    """New TCP connections over a whole in-process worker session (login, connect, long
    polls and the 100 events of one task), against 100 session-less update_task calls."""
    plugins, router = load_plugins()
    source = open_source({"url": server.url, "user": server.user,
                          "password": server.password}, CONN_WORKER, {})
    host = Host(router, min_interval=0)  # echo's 100 events, no 5 s floor between them

    def run_worker() -> None:
        runner = threading.Thread(target=host.run,
                                  args=(source, {"tasks": router.task_names()}))
        runner.start()
        try:
            wait_for(lambda: host.ready_at, "host connected")
            task_id = admin.create_task(CONN_WORKER, "echo", {"message": "e", "repeat": 99,
                                                              "interval": 0})
            wait_for(lambda: admin.task_status(CONN_WORKER, task_id) == "done", "100 events")
            assert len(admin.task_history(task_id)) == 100
        finally:
            host.request_stop()
            runner.join(120)
    opened = _count_new_connections(run_worker, server.port)
    token = mint_worker_token(CONN_WORKER, server.secret_key)
    task_id = admin.create_task(CONN_WORKER, "echo", {})
    counted = _count_new_connections(lambda: [requests.post(
        f"{server.url}/api/update_task", timeout=10, json={"attrs": {
            "token": token, "task_id": task_id, "event": {"n": i, **({"done": 1} if i == 99
                                                                     else {})}}})
        for i in range(100)], server.port)
    return opened, counted


def _count_new_connections(fn: Callable[[], Any], port: int) -> int:
    """TCP connections urllib3 opens to EMhub's port while ``fn`` runs (any thread)."""
    import urllib3.connectionpool as cp
    counter = {"n": 0}
    original = cp.HTTPConnectionPool._new_conn

    def counting(self: Any) -> Any:
        if self.port == port:  # not the admin client's (it reuses its own, anyway)
            counter["n"] += 1
        return original(self)
    cp.HTTPConnectionPool._new_conn = counting  # type: ignore[method-assign]
    try:
        fn()
    finally:
        cp.HTTPConnectionPool._new_conn = original  # type: ignore[method-assign]
    return counter["n"]


def recovery(server: EMhubServer, admin_box: list[AdminClient], restarts: int
             ) -> tuple[list[float], list[float]]:
    recoveries, downtimes = [], []
    for _ in range(restarts):
        time.sleep(1.0)  # the worker is back in its long poll
        down = time.time()
        server.stop_emhub()
        server.start_emhub()
        up = time.time()
        admin_box[0] = server.admin()
        task_id = admin_box[0].create_task(WORKER, "echo", {"repeat": 1, "interval": 0})
        events = wait_for(lambda: admin_box[0].task_events(task_id),  # noqa: B023
                          "first event after restart", timeout=300)
        recoveries.append(ms(echoed(events, task_id)) / 1000 - up)
        downtimes.append(up - down)
    return recoveries, downtimes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--restarts", type=int, default=5)
    args = parser.parse_args()
    site = install_echo(Path(tempfile.mkdtemp(prefix="emhub-latency-site-")))
    sys.path.insert(0, str(site))  # part 2's in-process host finds echo's entry point
    server = EMhubServer.create()
    server.start()
    try:
        admin = server.admin()
        # 1. baseline first, then the real worker
        stop = threading.Event()
        bare = threading.Thread(target=bare_loop, args=(server, stop), daemon=True)
        bare.start()
        time.sleep(0.5)
        base = latencies(admin, args.tasks, WORKER)
        stop.set()
        admin.create_task(WORKER, "echo", {})  # wake the bare loop so it ends
        bare.join(10)
        time.sleep(0.5)
        with tempfile.TemporaryDirectory() as tmp:
            config = server.worker_config(Path(tmp) / "bench.toml", WORKER)
            log = Path(tmp) / "worker.log"
            env = {k: v for k, v in os.environ.items() if not k.startswith("EMHUB_")}
            env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO)])
            with WorkerProcess(config, env, log) as worker:
                worker.wait_connected()
                time.sleep(0.5)
                ours = latencies(admin, args.tasks, WORKER)
                box = [admin]
                recoveries, downtimes = recovery(server, box, args.restarts)
        opened, baseline_conns = connections_for_100_events(server, server.admin())
    finally:
        server.stop()
        shutil.rmtree(site, ignore_errors=True)
    m_ours, m_base = statistics.median(ours), statistics.median(base)
    print(f"1. create_task -> first event, median of {len(ours)}: emworker "
          f"{m_ours * 1000:.0f} ms; bare protocol loop {m_base * 1000:.0f} ms; "
          f"ratio {m_ours / m_base if m_base else float('nan'):.2f} "
          f"(emworker min {min(ours) * 1000:.0f} / max {max(ours) * 1000:.0f} ms)")
    print(f"2. TCP connections opened for 100 events (whole worker session: login, "
          f"connect, long polls, events): emworker {opened}; "
          f"without a session {baseline_conns}; ratio {opened / baseline_conns:.2f}")
    print(f"3. recovery after an EMhub restart, median of {len(recoveries)}: "
          f"{statistics.median(recoveries):.2f} s from EMhub answering to the worker's first "
          f"event (EMhub itself was down {statistics.median(downtimes):.2f} s; all: "
          + ", ".join(f"{r:.2f}" for r in recoveries) + " s)")


if __name__ == "__main__":
    main()
