"""The cluster-lsf handler through the core's test kit, on recorded LSF outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emworker_cluster_lsf.handler import ClusterLSFHandler
from emworker_cluster_lsf.testkit import fake_runner_responses

from emhub_worker_core import CommandTimeout
from emhub_worker_core.testing import FakeRunner, run_handler

DATA = Path(__file__).parent / "data"
TASK: dict[str, Any] = {"name": "cluster-lsf", "args": {"period": 0}}

#: The Cluster Queues page's view of data/busy.json, worked out by hand from the recordings.
BUSY_QUEUES = {
    "gpu01": {"status": "ok", "max": 64, "run": 22, "closed": False,
              "users": {"alice": [{"jobid": "5001", "cores": 16}],
                        # bob runs on gpu01 from two queues: both jobs kept
                        "bob": [{"jobid": "5002", "cores": 4}, {"jobid": "6001", "cores": 2}]}},
    "gpu02": {"status": "closed_Full", "max": 64, "run": 64, "closed": True,
              "reason": "all job slots are in use",
              "users": {"bob": [{"jobid": "5002", "cores": 2}]}},
    "gpu03": {"status": "unavail", "max": 64, "run": 0, "closed": True,
              "reason": "host down or LIM and sbatchd unreachable", "users": {}},
    "gpu05": {"status": "unreach", "max": 64, "run": 0, "closed": True,
              "reason": "sbatchd unreachable", "users": {}},
    "gpu04": {"status": "ok", "max": 32, "run": 1, "closed": False,
              "users": {"bob": [{"jobid": "5003", "cores": 1}]}},
    "cpu01": {"status": "closed_Adm", "max": 48, "run": 2, "closed": True,
              "reason": "closed by an LSF administrator",
              "users": {"dave": [{"jobid": "6002", "cores": 2}]}},
    "cpu02": {"status": "ok", "max": "-", "run": 0, "closed": False, "users": {}},
}


def runner(scenario: str) -> FakeRunner:
    return FakeRunner(fake_runner_responses(DATA / scenario))


def values_are_storable(event: dict[str, Any]) -> None:
    for key, value in event.items():  # what EMhub can store: str, int, float only
        assert isinstance(value, (str, int, float)) and not isinstance(value, bool), key
    assert event["maxlen"] == 2


def test_busy_cluster_one_event_per_period() -> None:
    fake = runner("busy.json")
    run = run_handler(ClusterLSFHandler, TASK, iterations=2, runner=fake)
    assert len(run.events) == 2 and not run.done and not run.errors
    for event in run.events:
        values_are_storable(event)
    event = run.last
    assert json.loads(str(event["queues"])) == BUSY_QUEUES
    assert json.loads(str(event["pending"])) == {"cryo_gpu": 1, "cryo_cpu": 1}
    assert json.loads(str(event["queue_status"])) == {"cryo_gpu": "Open:Active",
                                                     "cryo_cpu": "Open:Active"}
    notes = json.loads(str(event["notes"]))
    assert "queue cryo_old: skipped (cryo_old: No such queue)" in notes  # not fatal
    assert {"queue cryo_cpu: host token cpu09@remote_cluster not queried",
            "queue cryo_cpu: host token allremote not queried"} <= set(notes)
    # "normal" does not match the pattern; nothing goes through a shell
    assert not any("normal" in call for call in fake.calls)
    assert all(isinstance(call, tuple) and len(call) > 1 for call in fake.calls)


def test_queues_by_name_and_unknown_name_noted() -> None:
    run = run_handler(ClusterLSFHandler, {"name": "cluster-lsf", "args": {
        "queues": ["cryo_gpu", "cryo_missing"], "period": 0}}, runner=runner("busy.json"))
    assert set(json.loads(str(run.last["queue_status"]))) == {"cryo_gpu"}
    hosts = json.loads(str(run.last["queues"]))
    assert set(hosts) == {"gpu01", "gpu02", "gpu03", "gpu05", "gpu04"}
    assert hosts["gpu01"]["users"]["bob"] == [{"jobid": "5002", "cores": 4}]
    assert "queue cryo_missing: not known to bqueues" in str(run.last["notes"])


def test_empty_cluster_both_no_job_answers() -> None:
    run = run_handler(ClusterLSFHandler, TASK, runner=runner("empty.json"))
    assert not run.errors
    assert json.loads(str(run.last["queues"])) == {
        "hostA": {"status": "ok", "max": 8, "run": 0, "closed": False, "users": {}},
        "hostB": {"status": "ok", "max": 8, "run": 0, "closed": False, "users": {}}}
    assert json.loads(str(run.last["pending"])) == {"cryo_a": 0, "cryo_b": 0}


def test_old_lsf_text_forms_closed_queue_and_all_hosts() -> None:
    fake = runner("old_lsf_closed.json")
    run = run_handler(ClusterLSFHandler, {"name": "cluster-lsf", "args": {"period": 0}},
                      iterations=2, runner=fake)
    assert not run.errors and len(run.events) == 2
    assert json.loads(str(run.last["queue_status"])) == {"cryo_old": "Closed:Inact"}
    hosts = json.loads(str(run.last["queues"]))
    assert set(hosts) == {"node1", "node2", "a-very-long-host-name-beyond-twenty.example.org"}
    assert hosts["node2"]["status"] == "unreach" and hosts["node2"]["closed"] is True
    # -json was refused once, then the text forms are used directly
    assert sum(1 for call in fake.calls if "-json" in call and call[0] != "bjobs") == 2
    assert fake.calls.count(("bhosts", "-w")) == 2


def test_missing_commands_give_one_error_event_per_period_and_no_crash() -> None:
    run = run_handler(ClusterLSFHandler, TASK, iterations=3, runner=FakeRunner())
    assert len(run.events) == 3 and not run.done
    for event in run.events:
        values_are_storable(event)
        assert event["error"] == "bqueues -o queue_name status -json: command not found: bqueues"
        assert "queues" not in event  # nothing good seen yet


def test_failure_keeps_last_good_queues_then_recovers() -> None:
    good = fake_runner_responses(DATA / "busy.json")
    outcomes = iter(["ok", "timeout", "garbage", "ok"])
    state = {"now": "ok"}

    def bjobs(argv: Any) -> Any:
        if state["now"] == "timeout":
            return CommandTimeout(argv, "timed out", stderr="")
        if state["now"] == "garbage":
            return ("LSF daemon (mbatchd) not responding", "", 0)
        return good["bjobs"](argv)

    def bqueues(argv: Any) -> Any:  # the first command of each period moves the script on
        if argv[1] == "-o":
            state["now"] = next(outcomes)
        return good["bqueues"](argv)

    fake = FakeRunner({**good, "bqueues": bqueues, "bjobs": bjobs})
    run = run_handler(ClusterLSFHandler, TASK, iterations=4, runner=fake)
    assert [("error" in e) for e in run.events] == [False, True, True, False]
    assert str(run.events[1]["error"]) == ("bjobs -q cryo_gpu -u all -o user jobid stat job_name "
                                           "queue exec_host -json: timed out after 30 s")
    assert str(run.events[2]["error"]).startswith("bjobs: output is not JSON")
    for event in run.events:
        assert json.loads(str(event["queues"])) == BUSY_QUEUES


def test_bad_args_end_the_task_once() -> None:
    for args in ({"queues": ["cryo; rm -rf /"]}, {"queues": ["-u"]}, {"period": -1}, {"pattern": 3},
                 {"queues": "x y"}):
        run = run_handler(ClusterLSFHandler, {"name": "cluster-lsf", "args": args},
                          iterations=3, runner=FakeRunner())
        assert len(run.events) == 1 and run.done, args
        assert "must be" in str(run.last["error"])


def test_config_defaults_and_interval() -> None:
    run = run_handler(ClusterLSFHandler, {"name": "cluster-lsf", "args": {}},
                      config={"period": 12, "queues": ["cryo_a"]}, runner=runner("empty.json"))
    assert run.handler.interval == 12.0
    assert set(json.loads(str(run.last["queue_status"]))) == {"cryo_a"}


def test_odd_queue_names_from_lsf_are_not_passed_on() -> None:
    listing = ('{"COMMAND":"bqueues","QUEUES":2,"RECORDS":[{"QUEUE_NAME":"-cryo","STATUS":'
               '"Open:Active"},{"QUEUE_NAME":"cryo x","STATUS":"Open:Active"}]}')
    fake = FakeRunner({"bqueues": listing})
    run = run_handler(ClusterLSFHandler, TASK, runner=fake)
    assert fake.calls == [("bqueues", "-o", "queue_name status", "-json")]
    assert json.loads(str(run.last["queues"])) == {}
    assert json.loads(str(run.last["notes"])) == ["queue '-cryo': skipped (unsafe name)",
                                                  "queue 'cryo x': skipped (unsafe name)"]
