"""The handler with an in-memory EMhub and a scripted scheduler: inputs, waiting, retries,
re-attach, stop and clear."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from emworker_session_otf.handler import OtfHandler
from emworker_session_otf.record import JobRecord, RecordStore
from otf_fakes import SID, FakeSlurm, handler, otf_of, run

from emhub_worker_core.testing import FakeEMhub, run_handler


def test_folder_submit_and_finish(site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    result = run(site, slurm, iterations=3)
    otf_path = site["tmp"] / "otf" / "S42_OTF"
    assert (otf_path / "data").resolve() == site["raw"].resolve()
    assert (otf_path / "Krios01_gain.mrc").read_bytes() == b"g"
    params = json.loads((otf_path / "otf_params.json").read_text())
    assert params["acquisition"] == {"voltage": 300} and params["microscope"] == "Krios01"
    sbatch = next(c for c in slurm.runner.calls if c[0] == "sbatch")
    assert "--partition=cryo-gpu" in sbatch and "--gres=gpu:1" in sbatch
    assert sbatch[-3:] == ("/opt/otf/relion", str(otf_path / "movies.txt"), str(SID))
    assert otf_of(site)["status"] == "queued"
    slurm.jobs["100"] = "RUNNING"
    run(site, slurm, iterations=1)
    slurm.jobs["100"] = "COMPLETED"
    result = run(site, slurm, iterations=2)
    otf = otf_of(site)
    assert otf["status"] == "finished" and otf["exit_code"] == 0 and otf["movies_fed"] == 3
    assert result.last["done"] == 1 and result.last["otf_status"] == "finished"
    assert slurm.submits == 1  # three tasks, one job
    assert [t["status"] for t in otf["transitions"]] == ["created", "submitting", "queued",
                                                         "running", "finished"]
    assert otf["workflow"] == "relion" and otf["host"] == "gpu1" and otf["folder"] == \
        str(otf_path)
    # no project EMhub renders: the status view (test_otf_data_path.py)
    assert site["emhub"].sessions[SID]["data_path"].endswith("/.emworker-status-view")


def test_waiting_events_only_when_the_count_changes(site: dict[str, Any]) -> None:
    site["config"]["min_movies"] = 10
    result = run(site, FakeSlurm(), iterations=6)
    waiting = [e for e in result.events if e.get("otf_status") == "waiting"]
    assert [e["settled_movies"] for e in waiting] == [0, 3]
    assert all(e["maxlen"] == 20 for e in waiting)
    assert "otf" not in site["emhub"].sessions[SID]["extra"] or \
        otf_of(site).get("status") in (None, "")


def test_failure_is_retried_then_reported_once(site: dict[str, Any]) -> None:
    site["config"]["retries"] = 1
    slurm = FakeSlurm()
    run(site, slurm, iterations=3)
    slurm.jobs["100"], slurm.exit = "FAILED", "2:0"
    run(site, slurm, iterations=1)
    assert slurm.submits == 2 and otf_of(site)["status"] == "queued"
    slurm.jobs["101"] = "FAILED"
    result = run(site, slurm, iterations=2)
    assert slurm.submits == 2
    otf = otf_of(site)
    assert otf["status"] == "failed" and otf["exit_code"] == 2 and otf["attempts"] == 2
    assert result.last["otf_status"] == "failed" and result.last["exit_code"] == 2
    again = run(site, slurm, iterations=2)  # a later task: reported, not resubmitted
    assert slurm.submits == 2 and "already ended" in str(again.last["msg"])


def test_restart_between_submit_and_saving_the_id_finds_the_job(site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    store = RecordStore(site["config"]["state_dir"])
    otf_path = site["tmp"] / "otf" / "S42_OTF"
    otf_path.mkdir(parents=True)
    record = JobRecord(session_id=SID, owner_task="old", path=str(otf_path),
                       workflow="relion", host="gpu1", executor="slurm", status="submitting",
                       job_name="emworker-otf-42-1-1", attempts=1)
    store.save(record)
    slurm.add("100", "RUNNING", "emworker-otf-42-1-1")  # the job the dead worker submitted
    run(site, slurm, iterations=2)
    assert slurm.submits == 0
    assert otf_of(site)["job_id"] == "100" and otf_of(site)["status"] == "running"


def test_stop_and_clear(site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    run(site, slurm, iterations=3)
    stop = run(site, slurm, iterations=1, stop=1)
    assert stop.last["otf_status"] == "stopped" and slurm.jobs["100"] == "CANCELLED"
    assert otf_of(site)["status"] == "stopped"
    otf_path = site["tmp"] / "otf" / "S42_OTF"
    (otf_path / "results.star").write_text("keep me")
    result = run(site, slurm, iterations=3, clear=1)
    cleared = list(otf_path.parent.glob("S42_OTF.cleared-*"))
    assert len(cleared) == 1 and (cleared[0] / "results.star").read_text() == "keep me"
    assert any(e.get("msg") == "cleared" for e in result.events)
    assert slurm.submits == 2 and otf_of(site)["status"] == "queued"
    assert otf_of(site)["job_id"] == "101"
    paths = [c[1][1] for c in site["emhub"].calls if c[0] == "set_session_data_path"]
    view = str(otf_path.parent / ".emworker-status-view")
    assert paths[-2:] == ["", view] and set(paths) == {"", view}  # emptied by the clear


@pytest.mark.parametrize("raw", ["../../etc", "/etc", "S42/../../x"])
def test_hostile_session_paths_are_refused(site: dict[str, Any], raw: str) -> None:
    site["emhub"].sessions[SID]["extra"]["raw"]["path"] = raw
    slurm = FakeSlurm()
    result = run(site, slurm)
    assert result.last["done"] == 1 and "refused" in str(result.last["error"])
    assert slurm.runner.calls == []


def test_hostile_otf_path_and_unknown_workflow_are_refused(site: dict[str, Any]) -> None:
    site["emhub"].sessions[SID]["extra"]["otf"]["path"] = "/tmp/../etc/x"
    assert "refused" in str(run(site, FakeSlurm()).last["error"])
    site["emhub"].sessions[SID]["extra"]["otf"] = {"workflow": "nope; rm -rf /"}
    assert "not defined" in str(run(site, FakeSlurm()).last["error"])
    site["config"]["workflows"] = {"relion": {"argv": ["/opt/x", "{password}"]}}
    site["emhub"].sessions[SID]["extra"]["otf"] = {"workflow": "relion"}
    assert "unknown placeholder" in str(run(site, FakeSlurm()).last["error"])


def test_stop_while_waiting_ends_the_waiting_task_and_a_second_task_defers(
        site: dict[str, Any]) -> None:
    site["config"]["min_movies"] = 10
    emhub, slurm = site["emhub"], FakeSlurm()
    from emhub_worker_core.testing import make_context
    waiting = OtfHandler(make_context({"name": "session", "args": {"session_id": SID}},
                                      config=site["config"], services=emhub,
                                      runner=slurm.runner))
    waiting.setup()
    waiting.process()
    assert not waiting.finished
    stop = run(site, slurm, iterations=1, stop=1)
    assert stop.last["otf_status"] == "stopped"
    waiting.process()
    assert waiting.finished and otf_of(site)["status"] == "stopped"
    assert slurm.submits == 0

    site["config"]["min_movies"] = 3
    run(site, slurm, iterations=1, clear=1)  # clear: start again; first task waits
    first = OtfHandler(make_context({"name": "session", "args": {"session_id": SID}},
                                    config=site["config"], services=emhub,
                                    runner=slurm.runner))
    first.setup()
    first.process()  # sees the movies, not yet settled
    run(site, slurm, iterations=3)  # another task gets there first and submits
    first.process()
    assert first.finished and slurm.submits == 1


def test_a_fed_movie_reaches_extra_otf_in_its_step_and_after_an_outage_the_next(
        site: dict[str, Any]) -> None:
    slurm, emhub = FakeSlurm(), site["emhub"]
    tracking = handler(site, slurm.runner)
    tracking.process()
    tracking.process()  # three movies settled and fed, job 100 queued
    assert otf_of(site)["movies_fed"] == 3 and otf_of(site)["status"] == "queued"
    (site["raw"] / "Data" / "FoilHole_3_fractions.tiff").write_bytes(b"x")
    tracking.process()  # seen, not yet settled
    tracking.process()  # fed: published at the end of the step, no status changed
    assert otf_of(site)["movies_fed"] == 4
    real = emhub.update_session_extra

    def down(sid: int, extra: Any) -> Any:
        raise ConnectionError("EMhub is down")
    emhub.update_session_extra = down
    (site["raw"] / "Data" / "FoilHole_4_fractions.tiff").write_bytes(b"x")
    tracking.process()
    tracking.process()  # fed while EMhub is down
    assert otf_of(site)["movies_fed"] == 4
    emhub.update_session_extra = real
    tracking.process()  # nothing new: the update that failed is sent again
    assert otf_of(site)["movies_fed"] == 5 and not tracking.finished


def test_shell_text_in_session_values_reaches_a_real_local_job_literally(
        tmp_path: Path) -> None:
    name = "S1 a;b $(touch PWNED) `touch PWNED2` |x"
    raw = tmp_path / "raw" / name
    raw.mkdir(parents=True)
    for n in range(2):
        (raw / f"FoilHole_{n}_fractions.tiff").write_bytes(b"x")
    script = ("import json,sys,os; json.dump(sys.argv[1:], open(os.path.join(sys.argv[1],"
              " 'argv.json'), 'w'))")
    emhub = FakeEMhub(sessions=[{"id": 7, "name": name, "extra": {
        "raw": {"path": str(raw)}, "otf": {"workflow": "w"}}}])
    config = {"min_movies": 2, "quiet_seconds": 0, "period": 0,
              "otf_root": str(tmp_path / "otf"), "raw_root": str(tmp_path / "raw"),
              "state_dir": str(tmp_path / "state"), "workflows": {"w": {
                  "executor": "local", "argv": [sys.executable, "-c", script, "{otf_path}",
                                                "{session_name}", "--raw={raw_path}"]}}}
    run_handler(OtfHandler, {"name": "session-otf", "args": {"session_id": 7}},
                iterations=2, config=config, services=emhub)
    otf = tmp_path / "otf" / f"{name}_OTF"
    deadline = time.monotonic() + 30
    while not list(otf.glob("otf-local-*.status")):  # the job ended (and wrote why)
        assert time.monotonic() < deadline
        time.sleep(0.05)
    run_handler(OtfHandler, {"name": "session-otf", "args": {"session_id": 7}},
                iterations=1, config=config, services=emhub)  # collects the exit
    assert emhub.sessions[7]["extra"]["otf"]["status"] == "finished"
    assert json.loads((otf / "argv.json").read_text()) == [str(otf), name, f"--raw={raw}"]
    assert not list(tmp_path.rglob("PWNED*")) and not Path("PWNED").exists()


def test_job_records_go_to_the_plugin_folder_the_host_gives(site: dict[str, Any]) -> None:
    config = {k: v for k, v in site["config"].items() if k != "state_dir"}
    slurm = FakeSlurm()
    folder = site["tmp"] / "worker-state" / "plugins" / "session-otf"
    run_handler(OtfHandler, {"name": "session", "args": {"action": "otf", "session_id": SID}},
                iterations=3, config=config, services=site["emhub"], runner=slurm.runner,
                state_dir=folder)
    assert (folder / f"session-{SID}.json").is_file()
    # without either folder the task is refused in words, nothing submitted
    result = run_handler(OtfHandler, {"name": "session", "args": {
        "action": "otf", "session_id": SID}}, iterations=2, config=config,
        services=site["emhub"], runner=FakeSlurm().runner)
    assert "state_dir" in result.last["error"] and result.last["done"] == 1
