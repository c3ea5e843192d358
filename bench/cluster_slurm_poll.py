"""How long one cluster-slurm poll takes on the harness's real Slurm, against a plain ``squeue``.

Starts the single-node test cluster (tests/harness/slurm/start.sh), submits a few jobs to two
partitions, then times N polls of the handler in JSON and in text mode, and N runs of the
baseline (``squeue`` with no options, what an admin would type). Prints medians and ratios.
Do not run while the real-Slurm tests run: both use the same cluster.

    .venv/bin/python bench/cluster_slurm_poll.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Callable

from emworker_cluster_slurm.handler import ClusterSlurmHandler

from emhub_worker_core.contract.commands import CommandRunner
from emhub_worker_core.testing import make_context

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "tests" / "harness" / "slurm"
HOME = REPO / ".test-run" / "slurm"


def median_seconds(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def handler_for(mode: str, conf: Path) -> ClusterSlurmHandler:
    task = {"name": "cluster-slurm", "args": {"partitions": ["cryo-cpu", "cryo-gpu"],
                                              "mode": mode}}
    handler = ClusterSlurmHandler(make_context(task, config={"slurm_conf": str(conf)},
                                               runner=CommandRunner()))
    handler.setup()
    return handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    subprocess.run(["bash", str(SCRIPTS / "start.sh"), str(HOME)], check=True,
                   capture_output=True)
    conf = HOME / "etc" / "slurm.conf"
    env = {**os.environ, "SLURM_CONF": str(conf)}
    try:
        for part, user in (("cryo-cpu", "emw_alice"), ("cryo-gpu", "emw_bob"),
                           ("cryo-gpu", "emw_bob"), ("debug", "root")):
            subprocess.run(["sbatch", f"--uid={user}", "-p", part, "-c", "1", "--mem=100",
                            "--chdir=/tmp", "-o", "/dev/null", "--wrap", "sleep 300"],
                           env=env, check=True, capture_output=True)
        time.sleep(3)  # let the first jobs start
        baseline = median_seconds(lambda: subprocess.run(["squeue"], env=env, check=True,
                                                         capture_output=True), runs)
        print(f"baseline `squeue` (plain text, all jobs): median {baseline * 1000:.1f} ms "
              f"over {runs} runs")
        for mode in ("json", "text"):
            handler = handler_for(mode, conf)
            event = handler.poll()
            assert event["queues"], "no nodes in the poll"
            poll = median_seconds(handler.poll, runs)
            print(f"cluster-slurm poll, {mode:4} mode (sinfo + squeue, parse, build): median "
                  f"{poll * 1000:.1f} ms = {poll / baseline:.2f} x baseline")
    finally:
        for user in ("emw_alice", "emw_bob", "root"):
            subprocess.run(["scancel", f"--user={user}"], env=env, capture_output=True)


if __name__ == "__main__":
    main()
