"""End to end on a real single-node Slurm: jobs submitted with sbatch to two partitions, then a
drained node, seen through ``emworker run --local`` with cluster-slurm tasks (JSON and text)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from emworker_testkit.slurm_cluster import SlurmCluster

pytestmark = pytest.mark.slurm


def run_worker(tmp_path: Path, cluster: SlurmCluster,
               plugin_config: str = "", exit_code: int = 0) -> dict[str, dict[str, Any]]:
    """One poll by a JSON-mode and a text-mode task; their events by mode."""
    tasks = tmp_path / "tasks.toml"
    tasks.write_text("".join(
        f'[[tasks]]\nid = "slurm-{mode}"\nname = "cluster-slurm"\n'
        f'args = {{ partitions = ["cryo-cpu", "cryo-gpu"], mode = "{mode}" }}\n\n'
        for mode in ("json", "text")))
    config = tmp_path / "config.toml"
    config.write_text(f'[worker]\nstate_dir = "{tmp_path / "state"}"\n\n'
                      f'[plugins.cluster-slurm]\n{plugin_config}\n')
    out = tmp_path / "events.jsonl"
    out.unlink(missing_ok=True)
    env = {**cluster.env, "EMHUB_SERVER_URL": ""}  # the worker inherits SLURM_CONF
    proc = subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config", str(config),
                           "run", "--local", str(tasks), "--iterations", "1", "--events",
                           str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == exit_code, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["task_id"] for r in records) == ["slurm-json", "slurm-text"]
    return {r["task_id"].split("-")[1]: r["event"] for r in records}


@pytest.fixture()
def clean(slurm_cluster: SlurmCluster) -> Any:
    slurm_cluster.cancel_all()
    slurm_cluster.resume()
    yield slurm_cluster
    slurm_cluster.resume()
    slurm_cluster.cancel_all()


def test_jobs_users_cores_then_drained_node(clean: SlurmCluster, tmp_path: Path) -> None:
    cluster = clean
    alice = cluster.submit("cryo-cpu", "emw_alice")
    bob = cluster.submit("cryo-gpu", "emw_bob")
    for jobid in (alice, bob):
        cluster.wait_state(jobid, "RUNNING")
    # fills the node's CPUs (one per job) so one more job in cryo-gpu pends
    cpus = int(cluster.run("sinfo", "-h", "-N", "-o", "%c").split()[0])
    extra = [cluster.submit("cryo-gpu", "emw_bob") for _ in range(cpus - 1)]
    cluster.submit("debug", "root")  # another partition: must not show
    pending = int(cluster.run("squeue", "-h", "-p", "cryo-gpu", "-t", "PENDING", "-o", "%i")
                  .count("\n"))
    events = run_worker(tmp_path, cluster)
    for mode, event in events.items():
        assert "error" not in event, event
        assert event["source"] == mode and event["maxlen"] == 2
        node = json.loads(event["queues"])[cluster.node]
        assert node["max"] == cpus and node["run"] >= 2
        assert node["partitions"] == ["cryo-cpu", "cryo-gpu"]
        assert node["users"]["emw_alice"] == [{"jobid": alice, "cores": 1, "state": "RUNNING"}]
        bob_jobs = {j["jobid"]: j for j in node["users"]["emw_bob"]}
        assert bob_jobs[bob] == {"jobid": bob, "cores": 1, "state": "RUNNING"}
        assert set(bob_jobs) <= {bob, *extra}
        assert "root" not in node["users"]
        assert json.loads(event["pending"]) == {"cryo-cpu": 0, "cryo-gpu": pending}
        assert pending >= 1
        assert event["poll_seconds"] > 0

    cluster.set_node("drain", reason="emworker drain test")
    for mode, event in run_worker(tmp_path, cluster).items():
        node = json.loads(event["queues"])[cluster.node]
        assert node["status"] == "closed_Adm", (mode, node)
        assert node["reason"] == "emworker drain test"
        assert "DRAIN" in node["state"].upper()
        assert json.loads(event["nodes_down"]) == {
            cluster.node: {"status": "closed_Adm", "reason": "emworker drain test"}}
        assert node["users"]["emw_alice"][0]["jobid"] == alice  # running jobs stay listed


def test_controller_down_is_an_error_event_not_a_crash(clean: SlurmCluster,
                                                       tmp_path: Path) -> None:
    # a configuration naming a controller port where nothing listens
    conf = tmp_path / "slurm.conf"
    conf.write_text(clean.conf.read_text().replace("SlurmctldPort=6817", "SlurmctldPort=6899"))
    events = run_worker(tmp_path, SlurmCluster(clean.home, conf), plugin_config="timeout = 3",
                        exit_code=6)  # a local run whose tasks sent only errors
    for mode, event in events.items():
        assert "queues" not in event, mode
        command = "sinfo --json" if mode == "json" else "sinfo -h -N"
        assert event["error"].startswith(command), event["error"]
