"""The four fleet scenarios of ``bench/fleet.py``; the suite runs the outage one on 5 workers.

Each returns a result whose ``figures()`` are (name, value) rows for a report. Waits are
bounded; a task that does not finish in time is counted (lost, not done), never waited on
for ever. Latencies come from Redis stream ids (a task's id and its history entries carry
the Redis clock in ms), so they need no tight polling. Tasks are ``echo`` tasks (contrib
echo plugin) with ``interval`` 5 s, which is also the core's default floor between steps, so
they run the same with and without that floor.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import requests

from emhub_worker_core.sources.emhub.task_source import CATCH_UP_WINDOW
from tests.harness.emhub_admin import AdminClient, mint_worker_token
from tests.harness.emhub_server import EMhubServer
from tests.harness.fleet import (
    AccessLog,
    AttemptCounter,
    Fleet,
    Usage,
    median_max,
    percentile,
    redis_clients,
    thread_count,
)

STEP = 5.0  # echo interval of long tasks, s (= the core's min_interval default)
MIB = 1024 * 1024
#: s after the fleet connected before the idle window opens: past the 65 s after a connect
#: in which a worker re-checks its pending tasks every 1.5 s (a restart's catch-up)
SETTLE = CATCH_UP_WINDOW + 2.0


def stream_ms(stream_id: str) -> int:
    return int(stream_id.split("-")[0])


def worker_of(key: str) -> str:
    """The worker a key of a task table names: ``fleet-001.test`` or ``fleet-001.test#2``."""
    return key.split("#")[0]


def statuses(admin: AdminClient, task_ids: Mapping[str, str]) -> dict[str, str]:
    """Key -> status of its task in ``task_ids`` ("" created, "pending", "done"); a key is a
    worker name, or ``worker#n`` for its n-th task."""
    wanted = {tid: key for key, tid in task_ids.items()}
    found = {}
    for task in admin.all_tasks(worker_of(next(iter(task_ids)))):
        if task["id"] in wanted and task["worker"] == worker_of(wanted[task["id"]]):
            found[wanted[task["id"]]] = str(task["status"])
    return found


def wait_status(admin: AdminClient, task_ids: Mapping[str, str], want: set[str],
                timeout: float) -> dict[str, str]:
    """Poll until every task's status is in ``want`` or ``timeout``; the last statuses."""
    deadline = time.monotonic() + timeout
    while True:
        found = statuses(admin, task_ids)
        if all(found.get(w) in want for w in task_ids) or time.monotonic() > deadline:
            return found
        time.sleep(1.0)


def create_all(admin: AdminClient, names: list[str], args: dict[str, Any]) -> dict[str, str]:
    return {w: admin.create_task(w, "echo", {"message": w, **args}) for w in names}


def fmt_s(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f} s"


# -- 1 ------------------------------------------------------------------------------------------
@dataclass
class IdleResult:
    seconds: float
    requests: int
    by_endpoint: dict[str, int]
    emhub_cpu: float
    emhub_rss: int
    redis_cpu: float
    redis_rss: int
    worker_cpu: dict[str, float]
    worker_rss: dict[str, int]
    emhub_threads: int | None = None
    redis_clients: int | None = None
    capacity_rps: float = float("nan")  # EMhub's own limit, the baseline
    capacity_cpu: float = float("nan")
    capacity_client_cpu: float = float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def figures(self) -> list[tuple[str, str]]:
        cpu_med, cpu_max = median_max(self.worker_cpu.values())
        rss_med, rss_max = median_max(self.worker_rss.values())
        rows = [
            ("requests/s at EMhub", f"{self.rps:.2f} ({self.requests} in {self.seconds:.0f} s: "
             + ", ".join(f"{k} {v}" for k, v in sorted(self.by_endpoint.items())) + ")"),
            ("EMhub CPU, RSS", f"{self.emhub_cpu:.1%} of a core, {self.emhub_rss / MIB:.0f} MiB"),
            ("Redis CPU, RSS", f"{self.redis_cpu:.1%} of a core, {self.redis_rss / MIB:.0f} MiB"),
            ("EMhub threads, Redis clients", f"{self.emhub_threads}, {self.redis_clients} "
             "(an open long poll holds one of each)"),
            ("worker CPU median / max", f"{cpu_med:.2%} / {cpu_max:.2%} of a core"),
            ("worker RSS median / max", f"{rss_med / MIB:.0f} / {rss_max / MIB:.0f} MiB"),
            ("all workers together", f"{sum(self.worker_cpu.values()):.1%} of a core, "
             f"{sum(self.worker_rss.values()) / MIB:.0f} MiB"),
        ]
        if not math.isnan(self.capacity_rps):
            rows.append(("EMhub capacity (baseline)",
                         f"{self.capacity_rps:.0f} get_pending_tasks/s at "
                         f"{self.capacity_cpu:.0%} of a core (clients "
                         f"{self.capacity_client_cpu:.0%}); idle fleet uses "
                         f"{self.rps / self.capacity_rps:.2%} of it"))
        return rows


def idle(server: EMhubServer, fleet: Fleet, seconds: float, capacity_seconds: float = 0,
         stop: threading.Event | None = None) -> IdleResult:
    """The connected fleet left alone; then (baseline) EMhub saturated by a few clients."""
    stop = stop or threading.Event()
    assert server.emhub_pid is not None and server.redis_pid is not None
    # The log has whole seconds: start on a fresh one, after the last start-up calls.
    time.sleep(SETTLE + 1 - time.time() % 1)
    workers = Usage(fleet.pids())
    servers = Usage({"emhub": server.emhub_pid, "redis": server.redis_pid})
    began = time.time()
    end = time.monotonic() + seconds
    while not stop.wait(min(5.0, max(0.0, end - time.monotonic()))) \
            and time.monotonic() < end:
        workers.sample()
        servers.sample()
    ended = time.time()
    workers.finish()
    servers.finish()
    time.sleep(1.1)  # the last second's lines are written
    answered = AccessLog(server.access_log).requests(began, ended)
    by_endpoint: dict[str, int] = {}
    for request in answered:
        key = request.path.rsplit("/", 1)[-1]
        by_endpoint[key] = by_endpoint.get(key, 0) + 1
    result = IdleResult(
        seconds=int(ended) - int(began), requests=len(answered), by_endpoint=by_endpoint,
        emhub_cpu=servers.cpu.get("emhub", float("nan")),
        emhub_rss=servers.peak_rss.get("emhub", 0),
        redis_cpu=servers.cpu.get("redis", float("nan")),
        redis_rss=servers.peak_rss.get("redis", 0),
        worker_cpu=workers.cpu, worker_rss=workers.peak_rss,
        emhub_threads=thread_count(server.emhub_pid),
        redis_clients=redis_clients(server.redis_port))
    if capacity_seconds > 0:
        result.capacity_rps, result.capacity_cpu, result.capacity_client_cpu = \
            capacity(server, capacity_seconds)
    return result


def capacity(server: EMhubServer, seconds: float, clients: int = 4
             ) -> tuple[float, float, float]:
    """Requests/s EMhub answers when ``clients`` threads call get_pending_tasks back to back
    (a cheap worker call: one Redis read); EMhub's and the clients' CPU share meanwhile (the
    clients share this process: when they are near a core, they are the limit, not EMhub)."""
    assert server.emhub_pid is not None
    token = mint_worker_token("bench.test", server.secret_key)
    done = threading.Event()
    counts = [0] * clients

    def client(index: int) -> None:
        with requests.Session() as http:
            while not done.is_set():
                http.post(f"{server.url}/api/get_pending_tasks", timeout=30,
                          json={"attrs": {"token": token}}).raise_for_status()
                counts[index] += 1
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    usage = Usage({"emhub": server.emhub_pid, "clients": os.getpid()})
    for thread in threads:
        thread.start()
    done.wait(seconds)
    done.set()
    for thread in threads:
        thread.join(35)
    usage.finish()
    return (sum(counts) / seconds, usage.cpu.get("emhub", float("nan")),
            usage.cpu.get("clients", float("nan")))


# -- 2 ------------------------------------------------------------------------------------------
@dataclass
class BurstResult:
    latencies: dict[str, float]
    not_done: list[str]
    emhub_cpu: float
    create_seconds: float

    def figures(self) -> list[tuple[str, str]]:
        values = list(self.latencies.values())
        median, worst = median_max(values)
        return [
            ("create -> first event, median", fmt_s(median)),
            ("create -> first event, p95", fmt_s(percentile(values, 0.95))),
            ("create -> first event, max", fmt_s(worst)),
            ("tasks created in", f"{self.create_seconds:.2f} s (one admin session, serial)"),
            ("EMhub CPU during the burst", f"{self.emhub_cpu:.0%} of a core"),
            ("tasks not done", str(len(self.not_done))),
        ]


def burst(server: EMhubServer, fleet: Fleet, timeout: float = 120) -> BurstResult:
    """One task to every worker at once; latency from each task's id to its first event."""
    assert server.emhub_pid is not None
    usage = Usage({"emhub": server.emhub_pid})
    with server.admin() as admin:
        began = time.monotonic()
        tasks = create_all(admin, fleet.names, {"repeat": 1})
        created = time.monotonic() - began
        found = wait_status(admin, tasks, {"done"}, timeout)
        usage.finish()
        latencies = {}
        for worker, task_id in tasks.items():
            events = admin.task_events(task_id)
            if events:
                latencies[worker] = (stream_ms(events[0][0]) - stream_ms(task_id)) / 1000
    return BurstResult(latencies, [w for w in tasks if found.get(w) != "done"],
                       usage.cpu.get("emhub", float("nan")), created)


# -- 3 ------------------------------------------------------------------------------------------
@dataclass
class OutageResult:
    outage_seconds: float
    downtime: float  # killed -> answering again (the listener's window, plus EMhub's start)
    during: list[int]  # connection attempts per second while the listener held the port
    after: list[int]  # requests answered per second after EMhub was back
    recovery: dict[str, float]  # worker -> s from EMhub back to its first event of a new task
    lost: list[str] = field(default_factory=list)  # tasks not done, by "worker: task"
    gaps: list[str] = field(default_factory=list)  # long tasks missing events
    created_in: float = float("nan")  # the new tasks, one admin session, serial
    emhub_cpu_after: float = float("nan")  # over the first ``after`` seconds back

    @property
    def recovered(self) -> set[str]:
        return set(self.recovery)

    def figures(self) -> list[tuple[str, str]]:
        median, worst = median_max(self.recovery.values())
        during = sum(self.during) / max(len(self.during), 1)
        after = sum(self.after) / max(len(self.after), 1)
        return [
            ("attempts/s while down", f"{during:.2f} (per s: {' '.join(map(str, self.during))})"),
            (f"requests/s first {len(self.after)} s back",
             f"{after:.2f} (per s: {' '.join(map(str, self.after))})"),
            (f"EMhub CPU first {len(self.after)} s back", f"{self.emhub_cpu_after:.0%} of a core"),
            ("EMhub down (kill -> answering)", fmt_s(self.downtime)),
            ("new tasks created in", f"{fmt_s(self.created_in)} (from EMhub back)"),
            ("back -> every worker's event", f"{fmt_s(worst)} (median {fmt_s(median)}; "
             f"{len(self.recovery)} workers)"),
            ("tasks lost", str(len(self.lost))),
            ("long tasks with missing events", str(len(self.gaps))),
        ]


def outage(server: EMhubServer, fleet: Fleet, outage_seconds: float = 20,
           after_seconds: int = 10, timeout: float = 300,
           tasks_per_worker: int = 1) -> OutageResult:
    """Each worker runs ``tasks_per_worker`` tasks across an EMhub kill; a second task is
    created once EMhub answers again. Lost: any task not done by ``timeout``."""
    repeat = math.ceil(outage_seconds / STEP) + 2  # still running when EMhub comes back
    with server.admin() as admin:
        long = create_all(admin, fleet.names, {"repeat": repeat, "interval": STEP})
        for n in range(1, tasks_per_worker):
            long.update({f"{w}#{n}": t for w, t in create_all(
                admin, fleet.names, {"repeat": repeat, "interval": STEP}).items()})
        wait_status(admin, long, {"pending", "done"}, timeout)
    killed = time.monotonic()
    server.stop_emhub(kill=True)
    with AttemptCounter(server.port) as counter:
        listening = time.time()
        time.sleep(outage_seconds)  # the outage itself, not a wait on a result
    server.start_emhub()
    back, downtime = time.time(), time.monotonic() - killed
    assert server.emhub_pid is not None
    usage = Usage({"emhub": server.emhub_pid})
    timer = threading.Timer(after_seconds, usage.finish)
    timer.start()
    with server.admin() as admin:
        after = create_all(admin, fleet.names, {"repeat": 1})
        created_in = time.time() - back
        found = wait_status(admin, after, {"done"}, timeout)
        found_long = wait_status(admin, long, {"done"}, max(1.0, timeout - (time.time() - back)))
        recovery = {}
        for worker, task_id in after.items():
            events = admin.task_events(task_id)
            if events:
                recovery[worker] = stream_ms(events[0][0]) / 1000 - back
        gaps = []
        for worker, task_id in long.items():
            counts = {int(e["count"]) for e in admin.task_history(task_id) if "message" in e}
            if counts != set(range(1, repeat + 1)):
                gaps.append(f"{worker}: {task_id} has counts {sorted(counts)}")
    time.sleep(max(0.0, back + after_seconds + 1.1 - time.time()))  # the window is logged
    timer.join()
    lost = [f"{w}: {t}" for w, t in after.items() if found.get(w) != "done"]
    lost += [f"{w}: {t}" for w, t in long.items() if found_long.get(w) != "done"]
    return OutageResult(
        outage_seconds, downtime, counter.per_second(listening, int(outage_seconds)),
        AccessLog(server.access_log).per_second(back, after_seconds), recovery, lost, gaps,
        created_in, usage.cpu.get("emhub", float("nan")))


# -- 4 ------------------------------------------------------------------------------------------
@dataclass
class StopResult:
    grace: float
    exits: dict[str, tuple[int | None, float]]  # worker -> (exit code, seconds to exit)
    left_pending: dict[str, bool]  # worker -> its running task is pending, last event interrupted

    @property
    def clean_exits(self) -> int:
        return sum(1 for code, took in self.exits.values() if code == 0 and took <= self.grace)

    def figures(self) -> list[tuple[str, str]]:
        codes: dict[str, int] = {}
        for code, _ in self.exits.values():
            codes[str(code)] = codes.get(str(code), 0) + 1
        median, worst = median_max(t for c, t in self.exits.values() if c is not None)
        return [
            ("exit codes", ", ".join(f"{c}: {n}" for c, n in sorted(codes.items()))),
            ("SIGTERM -> exit, median / max", f"{fmt_s(median)} / {fmt_s(worst)} "
             f"(grace period {self.grace:g} s)"),
            ("exited 0 within the grace period", f"{self.clean_exits}/{len(self.exits)}"),
            ("running tasks left pending", f"{sum(self.left_pending.values())}"
             f"/{len(self.left_pending)}"),
        ]


def shutdown(server: EMhubServer, fleet: Fleet, grace: float, timeout: float = 120
             ) -> StopResult:
    """SIGTERM to every worker at once while each runs a long task."""
    with server.admin() as admin:
        long = create_all(admin, fleet.names, {"repeat": 10_000, "interval": STEP})
        wait_status(admin, long, {"pending"}, timeout)
        deadline = time.monotonic() + timeout  # each has started: its first event is in
        while time.monotonic() < deadline and not all(admin.task_events(t)
                                                       for t in long.values()):
            time.sleep(1.0)
        began = time.monotonic()
        fleet.signal_all(signal.SIGTERM)
        exits = fleet.wait_exits(grace + 30, began)
        found = statuses(admin, long)
        left = {}
        for worker, task_id in long.items():
            history = admin.task_history(task_id)
            left[worker] = found.get(worker) == "pending" and bool(history) \
                and "interrupted" in history[-1]
    return StopResult(grace, exits, left)
