"""What an idle worker costs: CPU a minute and RSS, on a real EMhub 1.0.2 + Redis.

An ``emworker run`` subprocess (default settings, state file on) and, as the baseline in
the same run, a bare protocol loop subprocess (one requests.Session long-polling
get_new_tasks, nothing else: what the stock worker does when idle) both sit connected and
idle for the same window, side by side. CPU is utime+stime from ``/proc/<pid>/stat``
over the window (start-up excluded; 10 ms clock ticks), and with nanosecond resolution
the sum of every thread's run time from ``/proc/<pid>/task/*/schedstat``; RSS is
``VmRSS`` at its end. Also counted: how often the worker rewrote its state file.

Run: ``.venv/bin/python bench/idle_cost.py [--seconds 60]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from emhub_worker_core.sources.emhub.task_source import CATCH_UP_WINDOW  # noqa: E402
from tests.harness.emhub_admin import mint_worker_token  # noqa: E402
from tests.harness.emhub_server import EMhubServer  # noqa: E402
from tests.harness.emhub_worker import WorkerProcess, wait_for  # noqa: E402

WORKER = "bench.test"
BARE_WORKER = "core-1.test"
TICKS = os.sysconf("SC_CLK_TCK")

BARE_LOOP = """
import sys, requests
url, token = sys.argv[1], sys.argv[2]
http = requests.Session()
print("ready", flush=True)
while True:
    http.post(f"{url}/api/get_new_tasks", json={"attrs": {"token": token}}, timeout=(10, 90))
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def run_ns(pid: int) -> int:
    """Nanoseconds on a CPU, summed over the process' live threads (idle: none die)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
        except (OSError, ValueError, IndexError):  # a thread ended while we looked
            pass
    return total


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    server = EMhubServer.create()
    server.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = server.worker_config(Path(tmp) / "bench.toml", WORKER)
            state = Path(tmp) / f"state-{WORKER}" / "state.json"
            env = {k: v for k, v in os.environ.items() if not k.startswith("EMHUB_")}
            token = mint_worker_token(BARE_WORKER, server.secret_key)
            bare = subprocess.Popen([sys.executable, "-c", BARE_LOOP, server.url, token],
                                    stdout=subprocess.PIPE, text=True)
            try:
                with WorkerProcess(config, env, Path(tmp) / "worker.log") as worker:
                    worker.wait_connected()
                    assert bare.stdout is not None and bare.stdout.readline() == "ready\n"
                    wait_for(state.exists, "state file")
                    # start-up and the 65 s of pending re-checks after a connect done:
                    # measure the idle steady state only
                    time.sleep(CATCH_UP_WINDOW + 2)
                    writes, last_mtime = 0, state.stat().st_mtime_ns
                    ours0, base0 = cpu_seconds(worker.pid), cpu_seconds(bare.pid)
                    ours_ns0, base_ns0 = run_ns(worker.pid), run_ns(bare.pid)
                    deadline = time.monotonic() + args.seconds
                    while time.monotonic() < deadline:
                        time.sleep(0.05)  # count state writes by their modification times
                        mtime = state.stat().st_mtime_ns
                        if mtime != last_mtime:
                            writes, last_mtime = writes + 1, mtime
                    ours = cpu_seconds(worker.pid) - ours0
                    base = cpu_seconds(bare.pid) - base0
                    ours_ns = run_ns(worker.pid) - ours_ns0
                    base_ns = run_ns(bare.pid) - base_ns0
                    ours_rss, base_rss = rss_mib(worker.pid), rss_mib(bare.pid)
            finally:
                bare.kill()
                bare.wait(10)
    finally:
        server.stop()
    per_minute = 60.0 / args.seconds
    print(f"idle CPU per minute: emworker {ours * per_minute * 1000:.1f} ms; bare protocol "
          f"loop {base * per_minute * 1000:.1f} ms; ratio "
          f"{ours / base if base else float('inf'):.2f} (clock tick {1000 / TICKS:.0f} ms)")
    print(f"idle CPU per minute (schedstat, ns resolution): emworker "
          f"{ours_ns * per_minute / 1e6:.2f} ms; bare protocol loop "
          f"{base_ns * per_minute / 1e6:.2f} ms; ratio "
          f"{ours_ns / base_ns if base_ns else float('inf'):.2f}")
    print(f"RSS: emworker {ours_rss:.1f} MiB; bare protocol loop {base_rss:.1f} MiB; "
          f"ratio {ours_rss / base_rss:.2f}")
    print(f"state file writes in {args.seconds:.0f} s idle: {writes}")


if __name__ == "__main__":
    main()
