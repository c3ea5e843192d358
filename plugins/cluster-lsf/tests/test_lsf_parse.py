"""The LSF output parsers, on recordings written from LSF's documented formats."""

from __future__ import annotations

from pathlib import Path

import pytest
from emworker_cluster_lsf import parse

DATA = Path(__file__).parent / "data"


def test_queue_long_anchors_on_hosts_line_and_reads_status() -> None:
    detail = parse.parse_queue_long((DATA / "bqueues_l_cryo_gpu.txt").read_text())
    assert detail.status == "Open:Active"
    assert detail.host_tokens == ["cryo_gpu_hosts/", "gpu04+2"]  # not the USED_HOSTS: line


def test_closed_queue_status() -> None:
    detail = parse.parse_queue_long((DATA / "bqueues_l_cryo_old.txt").read_text())
    assert (detail.status, detail.host_tokens) == ("Closed:Inact", ["all", "~node3"])


def test_host_tokens_are_cleaned_and_keywords_sorted_out() -> None:
    sel = parse.select_hosts(["cryo_gpu_hosts/", "gpu04+2", "none", "~gpu09", "allremote",
                              "cpu09@remote", "gpu04", "bad;name", "-l"])
    assert sel.names == ["cryo_gpu_hosts", "gpu04"]
    assert sel.excluded == {"gpu09"} and not sel.whole_cluster
    assert sel.ignored == ["allremote", "cpu09@remote", "bad;name", "-l"]
    assert parse.select_hosts(["others+1", "~gpu09"]).whole_cluster
    assert parse.select_hosts(["none"]).names == []


@pytest.mark.parametrize("exec_host, cores", [
    ("16*gpu01", {"gpu01": 16}),
    ("4*hostA:2*hostB", {"hostA": 4, "hostB": 2}),
    ("gpu03", {"gpu03": 1}),
    ("cpu01:cpu01:cpu02", {"cpu01": 2, "cpu02": 1}),
    ("", {}),
])
def test_exec_hosts(exec_host: str, cores: dict[str, int]) -> None:
    assert parse.cores_per_host(exec_host) == cores


def test_bad_exec_host_is_an_output_error() -> None:
    with pytest.raises(parse.LSFOutputError, match="EXEC_HOST"):
        parse.cores_per_host("x*gpu01")


def test_text_fallbacks() -> None:
    queues = parse.queues_from_text((DATA / "bqueues_w_old_lsf.txt").read_text())
    assert queues == {"normal": "Open:Active", "cryo_old": "Closed:Inact"}
    hosts = parse.hosts_from_text((DATA / "bhosts_w_old_lsf.txt").read_text())
    assert [(h.name, h.status, h.max, h.run) for h in hosts] == [
        ("node1", "ok", 16, 0), ("node2", "unreach", 16, 0), ("node3", "ok", 16, 0),
        ("a-very-long-host-name-beyond-twenty.example.org", "closed_Adm", "-", 0)]


def test_json_hosts_keep_dash_as_string() -> None:
    hosts = parse.hosts_from_json('{"COMMAND":"bhosts","HOSTS":1,"RECORDS":[{"HOST_NAME":'
                                  '"cpu02","STATUS":"ok","MAX":"-","RUN":"3"}]}')
    assert hosts == [parse.HostState("cpu02", "ok", "-", 3)]


def test_no_jobs_variants() -> None:
    assert parse.jobs_from_json('{"COMMAND":"bjobs","JOBS":0,"RECORDS":[]}') == []
    assert parse.is_no_jobs("", "No unfinished job found\n")
    assert not parse.is_no_jobs('{"RECORDS":[]}', "")
    assert not parse.is_no_jobs("", "LSF is down. Please wait ...\n")


@pytest.mark.parametrize("text", ["", "LSF daemon (LIM) not responding", '{"RECORDS": 3}',
                                  '{"RECORDS": [{"USER": "a"}]}', "[1]"])
def test_unparsable_bjobs(text: str) -> None:
    with pytest.raises(parse.LSFOutputError, match="^bjobs"):
        parse.jobs_from_json(text)


def test_unparsable_text() -> None:
    with pytest.raises(parse.LSFOutputError):
        parse.queues_from_text("garbage\n")
    with pytest.raises(parse.LSFOutputError):
        parse.hosts_from_text("HOST_NAME STATUS\nnode1\n")
