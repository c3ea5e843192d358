"""The handler through the core's test kit with recorded outputs: modes, errors, recovery."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from emworker_cluster_slurm.handler import ClusterSlurmHandler
from emworker_cluster_slurm.jsonfmt import NODES_JSON, SINFO_JSON, SQUEUE_JSON
from emworker_cluster_slurm.textfmt import SINFO_TEXT, SQUEUE_TEXT

from emhub_worker_core import CommandTimeout
from emhub_worker_core.testing import FakeRunner, run_handler

DATA = Path(__file__).parent / "data"
TASK = {"name": "cluster-slurm", "args": {"partitions": ["cryo-cpu", "cryo-gpu"]}}


def read(name: str) -> str:
    return (DATA / name).read_text()


def queues(event: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(str(event["queues"]))
    return decoded


def test_auto_uses_json_and_event_is_small() -> None:
    runner = FakeRunner({SINFO_JSON: read("v22_busy_sinfo.json"),
                         SQUEUE_JSON: read("v22_busy_squeue.json")})
    run = run_handler(ClusterSlurmHandler, TASK, iterations=2, runner=runner)
    assert len(run.events) == 2 and not run.errors and not run.done
    event = run.last
    assert event["maxlen"] == 2 and event["source"] == "json"
    assert set(queues(event)["localhost"]["users"]) == {"emw_alice", "emw_bob"}
    assert json.loads(str(event["pending"])) == {"cryo-cpu": 0, "cryo-gpu": 1}
    assert len(json.dumps(event)) < 1000
    assert all(isinstance(v, (str, int, float)) for v in event.values())


def test_auto_falls_back_to_text_once_and_remembers() -> None:
    runner = FakeRunner({SINFO_JSON: ("", "sinfo: unrecognized option '--json'", 1),
                         SINFO_TEXT: read("site_sinfo.txt"), SQUEUE_TEXT: read("site_squeue.txt")})
    run = run_handler(ClusterSlurmHandler, {"name": "cluster-slurm", "args": {}}, iterations=2,
                      runner=runner)
    assert not run.errors and run.last["source"] == "text"
    assert sorted(queues(run.last)) == ["gpu01", "gpu02", "gpu03", "gpu04", "gpu05", "gpu07"]
    assert runner.calls.count(SINFO_JSON) == 1  # not retried every period


def test_auto_stays_auto_while_slurm_is_down() -> None:
    down = ("", "slurm_load_jobs error: Unable to contact slurm controller", 1)
    answers: dict[tuple[str, ...], list[Any]] = {
               SINFO_JSON: [down, read("v22_busy_sinfo.json")],
               SQUEUE_JSON: [read("v22_busy_squeue.json")], SINFO_TEXT: [down]}
    runner = FakeRunner({argv: (lambda argv: answers[tuple(argv)].pop(0)) for argv in answers})
    run = run_handler(ClusterSlurmHandler, TASK, iterations=2, runner=runner)
    assert "sinfo -h -N" in str(run.events[0]["error"])
    assert run.last["source"] == "json" and "error" not in run.last


def test_newer_slurm_grouped_sinfo_uses_scontrol_nodes() -> None:
    runner = FakeRunner({SINFO_JSON: read("v23_sinfo_grouped.json"),
                         NODES_JSON: read("v23_scontrol_nodes.json"),
                         SQUEUE_JSON: read("v23_squeue.json")})
    run = run_handler(ClusterSlurmHandler, {"name": "cluster-slurm",
                                            "args": {"partitions": "cryo-gpu"}}, runner=runner)
    assert queues(run.last)["gpu07"]["users"]["bob"][0]["cores"] == 32


def test_failures_are_one_error_each_and_the_task_recovers() -> None:
    outputs = iter([read("site_sinfo.txt"),
                    ("", "slurm_load_node error: Unable to contact slurm controller", 1),
                    CommandTimeout(SINFO_TEXT, "timed out", stderr=""),
                    "garbage without fields\n",
                    read("site_sinfo.txt")])
    runner = FakeRunner({SINFO_TEXT: lambda argv: next(outputs),
                         SQUEUE_TEXT: read("site_squeue.txt")})
    task = {"name": "cluster-slurm", "args": {"mode": "text", "period": 0.01}}
    run = run_handler(ClusterSlurmHandler, task, iterations=5, runner=runner)
    assert [("error" in e) for e in run.events] == [False, True, True, True, False]
    first_error, _timeout, parse_error = run.errors
    assert "sinfo -h -N" in str(first_error["error"])
    assert "Unable to contact slurm controller" in str(first_error["error"])
    assert "unparsable output" in str(parse_error["error"])
    # the last good queues ride along so a last-event reader still renders the page
    assert queues(first_error) == queues(run.events[0]) and first_error["stale"] == 1
    assert not run.done


def test_missing_command_is_an_error_event() -> None:
    run = run_handler(ClusterSlurmHandler, {"name": "cluster-slurm", "args": {"mode": "text"}},
                      runner=FakeRunner({}))
    assert "command not found: sinfo" in str(run.last["error"]) and "queues" not in run.last


@pytest.mark.parametrize("args", [{"partitions": ["ok", "bad;rm -rf /"]}, {"period": "soon"},
                                  {"mode": "xml"}, {"partitions": 5}])
def test_bad_args_end_the_task_with_a_clear_error(args: dict[str, Any]) -> None:
    runner = FakeRunner({})
    run = run_handler(ClusterSlurmHandler, {"name": "cluster-slurm", "args": args},
                      runner=runner)
    assert run.done and run.errors and runner.calls == []


def test_slurm_conf_from_plugin_config_reaches_the_commands() -> None:
    seen: list[Any] = []

    class Recorder(FakeRunner):
        def run(self, argv: Any, **kwargs: Any) -> Any:
            seen.append(kwargs.get("env"))
            return super().run(argv, **kwargs)

    runner = Recorder({SINFO_TEXT: read("site_sinfo.txt"), SQUEUE_TEXT: read("site_squeue.txt")})
    run_handler(ClusterSlurmHandler, {"name": "cluster-slurm", "args": {"mode": "text"}},
                config={"slurm_conf": "/site/slurm.conf", "timeout": 5}, runner=runner)
    assert seen and all(env["SLURM_CONF"] == "/site/slurm.conf" for env in seen)
