"""Workflow definitions and values: unknown placeholders, options, shell text, ``..``."""

from __future__ import annotations

from pathlib import Path

import pytest
from emworker_session_otf.workflow import PLACEHOLDERS, Workflow, WorkflowError

from emhub_worker_core.guard import PathRefused, confine

VALUES = {name: f"<{name}>" for name in PLACEHOLDERS}


def wf(**data: object) -> Workflow:
    return Workflow.parse("relion", {"argv": ["/opt/otf/run", "{otf_path}"], **data})


@pytest.mark.parametrize("argv", [
    ["/opt/otf/run", "{secret}"],            # outside the set
    ["/opt/otf/run", "{otf_path.__class__}"],  # attribute access, as str.format would allow
    ["/opt/otf/run", "{0}"],
    ["/opt/otf/run", "{}"],
    ["/opt/otf/run", "a}b"],
    ["{raw_path}/run"],                       # the program itself from session data
    "/opt/otf/run {otf_path}",               # a shell line, not a list
    [],
    ["/opt/otf/run", ""],
])
def test_hostile_definitions_are_refused(argv: object) -> None:
    with pytest.raises(WorkflowError):
        Workflow.parse("relion", {"argv": argv})


@pytest.mark.parametrize("data", [
    {"executor": "ssh"}, {"partition": "gpu --uid=0"}, {"partition": "-A"},
    {"time": "1:00;reboot"}, {"shell": "bash"},
])
def test_bad_executor_or_options_are_refused(data: dict[str, str]) -> None:
    with pytest.raises(WorkflowError):
        wf(**data)


def test_bad_names_are_refused() -> None:
    with pytest.raises(WorkflowError):
        Workflow.parse("../x", {"argv": ["/bin/true"]})


def test_values_are_whole_items_or_literal_text_never_split() -> None:
    flow = Workflow.parse("w", {"argv": ["/opt/otf/run", "--session={session_id}",
                                         "{raw_path}", "{session_name}_out"]})
    values = {**VALUES, "session_id": "1; rm -rf / #", "raw_path": "/raw/a b $(id) `x`",
              "session_name": "x|y&z"}
    assert flow.render(values) == ["/opt/otf/run", "--session=1; rm -rf / #",
                                   "/raw/a b $(id) `x`", "x|y&z_out"]


@pytest.mark.parametrize("item", ["{session_name}", "{session_name}_x"])
def test_a_value_that_would_become_an_option_is_refused(item: str) -> None:
    flow = Workflow.parse("w", {"argv": ["/opt/otf/run", item]})
    with pytest.raises(WorkflowError, match="option"):
        flow.render({**VALUES, "session_name": "--delete-all"})


def test_an_option_written_by_the_site_keeps_its_value() -> None:
    flow = Workflow.parse("w", {"argv": ["/opt/otf/run", "--name", "{session_name}"]})
    assert flow.render({**VALUES, "session_name": "S1"})[1:] == ["--name", "S1"]


def test_options_are_kept_as_plain_values() -> None:
    flow = wf(executor="slurm", partition="cryo-gpu", gpus=2, time="1-00:00:00")
    assert flow.options == {"partition": "cryo-gpu", "gpus": "2", "time": "1-00:00:00"}


@pytest.mark.parametrize("path", ["../etc", "sub/../../etc", "/etc/passwd", "a/../b"])
def test_paths_outside_or_with_dotdot_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(PathRefused):
        confine(path, tmp_path, what="raw folder")


def test_a_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "escape").symlink_to("/etc")
    with pytest.raises(PathRefused):
        confine("escape", tmp_path / "root", what="raw folder")
    assert confine(str(tmp_path / "root" / "s1"), tmp_path / "root", what="x") == \
        (tmp_path / "root" / "s1").resolve()
