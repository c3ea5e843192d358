"""Parsers on outputs captured from the harness's real Slurm 22.05 and on the 23.11+ JSON shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from emworker_cluster_slurm.hostlist import expand_hostlist
from emworker_cluster_slurm.jsonfmt import number, parse_nodes_json, parse_squeue_json
from emworker_cluster_slurm.model import build_event, merge_nodes, node_status
from emworker_cluster_slurm.textfmt import ParseError, parse_sinfo_text, parse_squeue_text

DATA = Path(__file__).parent / "data"


def read(name: str) -> str:
    return (DATA / name).read_text()


@pytest.mark.parametrize("text, hosts", [
    ("gpu[02-03,07],cpu1", ["gpu02", "gpu03", "gpu07", "cpu1"]),
    ("n[8-10]", ["n8", "n9", "n10"]),
    ("n[08-10]", ["n08", "n09", "n10"]),
    ("r[1-2]n[1-2]", ["r1n1", "r1n2", "r2n1", "r2n2"]),
    ("", []), ("(null)", []), ("localhost", ["localhost"]),
])
def test_hostlist(text: str, hosts: list[str]) -> None:
    assert expand_hostlist(text) == hosts


@pytest.mark.parametrize("state, alloc, total, status", [
    ("idle", 0, 64, "ok"), ("mixed", 24, 64, "ok"), ("allocated", 64, 64, "closed_Full"),
    ("draining", 2, 2, "closed_Adm"), ("drained", 0, 64, "closed_Adm"), ("down*", 0, 64, "unavail"),
    ("idle~", 0, 64, "unavail"), ("mixed-", 1, 2, "ok"), ("ALLOCATED+DRAIN", 2, 2, "closed_Adm"),
    ("DOWN+NOT_RESPONDING", 0, 2, "unavail"), ("completing", 0, 2, "ok"),
    ("maint$", 0, 2, "closed_Adm"),
])
def test_status_mapping(state: str, alloc: int, total: int, status: str) -> None:
    assert node_status(state, alloc, total) == status


def test_wrapped_numbers() -> None:
    assert number(16) == 16
    assert number({"set": True, "infinite": False, "number": 16}) == 16
    assert number({"set": False, "infinite": False, "number": 0}) is None
    assert number(None) is None


def test_real_22_05_text_and_json_agree() -> None:
    wanted = {"cryo-cpu", "cryo-gpu"}
    from_text = build_event(merge_nodes(parse_sinfo_text(read("v22_busy_sinfo.txt"))),
                            parse_squeue_text(read("v22_busy_squeue.txt")), wanted)
    from_json = build_event(merge_nodes(parse_nodes_json(read("v22_busy_sinfo.json"))),
                            parse_squeue_json(read("v22_busy_squeue.json")), wanted)
    node = from_text["queues"]["localhost"]
    assert (node["status"], node["max"], node["run"], node["gpus"]) == ("closed_Full", 2, 2, 2)
    assert node["users"] == {"emw_alice": [{"jobid": "1", "cores": 1, "state": "RUNNING"}],
                             "emw_bob": [{"jobid": "2", "cores": 1, "state": "RUNNING"}]}
    assert node["partitions"] == ["cryo-cpu", "cryo-gpu"]  # debug is not selected
    assert from_text["pending"] == {"cryo-cpu": 0, "cryo-gpu": 1}
    assert from_json["queues"]["localhost"]["users"] == node["users"]
    assert from_json["pending"] == from_text["pending"]
    assert from_json["queues"]["localhost"]["gpus_used"] == 1


def test_real_22_05_drained_node_has_its_reason() -> None:
    for nodes in (parse_sinfo_text(read("v22_drain_sinfo.txt")),
                  parse_nodes_json(read("v22_drain_sinfo.json"))):
        event = build_event(merge_nodes(nodes), [], {"cryo-cpu"})
        assert event["queues"]["localhost"]["status"] == "closed_Adm"
        assert event["nodes_down"] == {"localhost": {"status": "closed_Adm",
                                                     "reason": "gpu fan replaced"}}


def test_site_text_multinode_split_evenly_and_pending_in_two_partitions() -> None:
    event = build_event(merge_nodes(parse_sinfo_text(read("site_sinfo.txt"))),
                        parse_squeue_text(read("site_squeue.txt")), {"cryo-gpu"})
    queues = event["queues"]
    assert sorted(queues) == ["gpu01", "gpu02", "gpu03", "gpu04", "gpu05", "gpu07"]
    assert [queues[n]["status"] for n in sorted(queues)] == [
        "ok", "closed_Full", "unavail", "closed_Adm", "unavail", "ok"]
    assert queues["gpu01"]["users"] == {
        "alice": [{"jobid": "4711", "cores": 16, "state": "RUNNING"}],
        "bob": [{"jobid": "4712_3", "cores": 8, "state": "RUNNING"}]}  # erin is in debug only
    assert queues["gpu02"]["users"]["bob"][0]["cores"] == 64
    assert queues["gpu01"]["gpus"] == 4
    assert event["pending"] == {"cryo-gpu": 1}
    assert event["nodes_down"]["gpu04"]["reason"] == "bad DIMM"


def test_newer_json_schema() -> None:
    jobs = parse_squeue_json(read("v23_squeue.json"))
    event = build_event(merge_nodes(parse_nodes_json(read("v23_scontrol_nodes.json"))), jobs,
                        {"cryo-gpu"})
    queues = event["queues"]
    assert queues["gpu01"]["users"] == {
        "alice": [{"jobid": "4711", "cores": 16, "state": "RUNNING"}],
        "bob": [{"jobid": "4712_3", "cores": 8, "state": "RUNNING"}]}  # COMPLETED dave dropped
    assert queues["gpu02"]["users"]["bob"][0]["cores"] == 64  # exact, from allocation
    assert queues["gpu07"]["users"]["bob"][0]["cores"] == 32
    assert (queues["gpu01"]["gpus"], queues["gpu01"]["gpus_used"]) == (4, 2)
    assert queues["gpu03"]["status"] == "unavail"
    assert queues["gpu04"]["status"] == "closed_Adm"
    assert "cpu01" not in queues
    assert event["pending"] == {"cryo-gpu": 1}


@pytest.mark.parametrize("parse, text", [
    (parse_sinfo_text, "gpu01|cryo|idle\n"), (parse_sinfo_text, "a|b|idle|x/y/z/w|g|none\n"),
    (parse_squeue_text, "1|alice|RUNNING\n"), (parse_nodes_json, "<html>"),
    (parse_nodes_json, read("v23_sinfo_grouped.json")),
    (parse_squeue_json, '{"jobs": [], "errors": [{"error": "Unable to contact controller"}]}'),
])
def test_unparsable_output(parse: object, text: str) -> None:
    with pytest.raises(ParseError):
        parse(text)  # type: ignore[operator]
