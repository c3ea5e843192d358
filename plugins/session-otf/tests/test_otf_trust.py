"""session-otf trusts only what it made (issue 20): what EMhub says about jobs, who defines
the program, two tasks or hosts for one session, records without a job id, cancels and
submits that do not answer, a corrupt record (folders, the feed and the job's environment:
test_otf_trust_folders.py). The in-memory EMhub and a scripted Slurm/LSF."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from emworker_session_otf import handler as handler_module
from emworker_session_otf.handler import OtfHandler
from emworker_session_otf.record import JobRecord, RecordStore
from otf_fakes import SID, FakeSlurm, handler, otf_of, run, spoof

from emhub_worker_core import CommandTimeout
from emhub_worker_core.testing import FakeRunner, run_handler


# -- EMhub decides nothing about jobs -----------------------------------------------------
def test_a_spoofed_job_id_is_never_given_to_scancel(site: dict[str, Any]) -> None:
    spoof(site, executor="slurm", job_id="--user=alice", status="running")
    slurm = FakeSlurm()
    stop = run(site, slurm, iterations=1, stop=1)
    assert not any("--user=alice" in call for call in slurm.runner.calls), slurm.runner.calls
    assert not any(call[0] == "scancel" for call in slurm.runner.calls)
    assert any("refused" in str(e.get("error", "")) for e in stop.events)
    assert stop.last["otf_status"] == "stopped"  # a waiting task of ours still ends


def test_a_strangers_job_is_neither_adopted_nor_cancelled(site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    slurm.add("77", "RUNNING", "my-analysis", user="alice")
    spoof(site, executor="slurm", job_id="77", status="running")
    stop = run(site, slurm, iterations=1, stop=1)
    assert slurm.jobs["77"] == "RUNNING" and ("scancel", "77") not in slurm.runner.calls
    assert any("not this session's" in str(e.get("error", "")) for e in stop.events)
    track = run(site, slurm, iterations=2, clear=1)  # clear: start over, own job
    assert slurm.jobs["77"] == "RUNNING" and slurm.submits == 1
    assert "done" not in track.last or "error" not in track.last


def test_lsf_job_zero_is_never_given_to_bkill(site: dict[str, Any]) -> None:
    site["config"]["workflows"]["relion"].update(executor="lsf")
    site["emhub"].configs["sessions"]["otf"]["workflows"]["relion"] = {}
    spoof(site, executor="lsf", job_id="0", status="running")
    runner = FakeRunner({"bkill": "Job <0>: all jobs killed\n",
                         "bjobs": ("", "No unfinished job found\n", 255)})
    stop = run_handler(OtfHandler, {"name": "session", "args": {"session_id": SID, "stop": 1}},
                       iterations=1, config=site["config"], services=site["emhub"],
                       runner=runner)
    assert not any(call[0] == "bkill" for call in runner.calls), runner.calls
    assert "refused" in json.dumps(stop.events)


def test_the_log_path_is_never_taken_from_emhub(site: dict[str, Any]) -> None:
    secret = site["tmp"] / "krios01.toml"
    secret.write_text('password = "hunter2"\n')
    slurm = FakeSlurm()
    run(site, slurm, iterations=2)  # our job 100 runs
    otf_path = site["tmp"] / "otf" / "S42_OTF"
    (otf_path / "otf-100.log").write_text("the workflow's own last words\n")
    (Path(site["config"]["state_dir"]) / f"session-{SID}.json").unlink()  # another host...
    spoof(site, log=str(secret))                                        # ...and a log path
    slurm.jobs["100"], slurm.exit = "FAILED", "1:0"
    result = run(site, slurm, iterations=2)
    assert "hunter2" not in json.dumps(result.events) and "hunter2" not in json.dumps(
        otf_of(site))
    assert otf_of(site)["log"] == str(otf_path / "otf-100.log")
    assert otf_of(site)["log_tail"] == "the workflow's own last words"


def test_setup_survives_bad_numbers_in_extra_otf(site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    slurm.add("100", "RUNNING", f"emworker-otf-{SID}-1-1")
    spoof(site, executor="slurm", job_id="100", status="running", movies_fed="lots",
          attempts=None, transitions=[{"status": "queued", "epoch": "yesterday"}])
    result = run(site, slurm, iterations=1)
    assert "stack" not in json.dumps(result.events), result.events
    assert otf_of(site)["job_id"] == "100" and slurm.submits == 0  # adopted: ours


# -- who defines what runs ----------------------------------------------------------------
def test_emhub_cannot_choose_the_program_unless_the_admin_opts_in(site: dict[str, Any]) -> None:
    site["emhub"].configs["sessions"]["otf"]["workflows"]["relion"] = {
        "argv": ["/usr/bin/touch", "/tmp/pwned"], "executor": "local"}
    site["config"]["workflows"] = {"relion": {"gpus": 1}}
    slurm = FakeSlurm()
    refused = run(site, slurm, iterations=2)
    assert str(refused.last["error"]).startswith("refused: workflow 'relion': argv, executor")
    assert slurm.runner.calls == [] and not (site["tmp"] / "otf").exists()
    site["emhub"].configs["sessions"]["otf"]["workflows"]["relion"] = {
        "argv": ["/opt/otf/relion", "{movies_list}"], "user": "root"}
    site["config"]["workflows"] = {"relion": {"argv": ["/opt/otf/relion"]}}
    assert "user" in str(run(site, slurm, iterations=1).last["error"])
    site["config"]["emhub_defines_programs"] = True
    run(site, slurm, iterations=2)
    sbatch = next(c for c in slurm.runner.calls if c[0] == "sbatch")
    assert "--uid=root" in sbatch  # the admin said EMhub may


def test_a_value_that_would_become_an_option_is_refused_before_anything_exists(
        site: dict[str, Any]) -> None:
    site["emhub"].sessions[SID]["name"] = "--wrap=reboot"
    site["config"]["workflows"]["relion"]["argv"] = ["/opt/otf/relion", "{session_name}"]
    slurm = FakeSlurm()
    result = run(site, slurm, iterations=3)
    assert str(result.last["error"]).startswith("refused: workflow 'relion'")
    assert "option" in result.last["error"] and result.last["done"] == 1
    assert not (site["tmp"] / "otf").exists() and slurm.runner.calls == []
    assert "data_path" not in site["emhub"].sessions[SID] or \
        not site["emhub"].sessions[SID]["data_path"]


# -- one session, one job -----------------------------------------------------------------
def test_two_tasks_for_one_session_submit_one_job(site: dict[str, Any],
                                                  monkeypatch: Any) -> None:
    slurm = FakeSlurm()
    first, second = handler(site, slurm.runner), handler(site, slurm.runner)
    first.process()
    second.process()  # both have seen the movies; both will find them settled
    making = threading.Event()
    release = threading.Event()
    real = handler_module.create_otf_folder

    def slow_folder(target: Any) -> Any:
        making.set()
        assert release.wait(30)
        return real(target)
    monkeypatch.setattr(handler_module, "create_otf_folder", slow_folder)
    one = threading.Thread(target=first.process)
    one.start()
    assert making.wait(30)  # the first task makes the folder, holding the session's lock
    two = threading.Thread(target=second.process)
    two.start()
    time.sleep(0.5)  # the second task is past its first look and waits for the lock
    monkeypatch.setattr(handler_module, "create_otf_folder", real)
    release.set()
    one.join(30)
    two.join(30)
    assert slurm.submits == 1 and second.finished and not first.finished


def test_two_hosts_for_one_session_submit_one_job(site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    host_a = handler(site, slurm.runner, state="state-a")
    host_b = handler(site, slurm.runner, state="state-b")  # set up before A submits
    for step in (host_a, host_b, host_a, host_b):
        step.process()
    assert slurm.submits == 1 and host_b.finished
    assert "runs this session's OTF job" in str(host_b.snapshot().get("msg", "")) or \
        otf_of(site)["job_id"] == "100"


def test_a_job_already_queued_under_the_sessions_name_is_not_submitted_again(
        site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    slurm.add("90", "PENDING", f"emworker-otf-{SID}-1700000000-1")  # a lost host's job
    result = run(site, slurm, iterations=2)
    assert slurm.submits == 0 and "already runs job 90" in str(result.last["msg"])


def test_a_record_without_a_job_id_never_asks_about_an_empty_id(site: dict[str, Any]) -> None:
    otf_path = site["tmp"] / "otf" / "S42_OTF"
    otf_path.mkdir(parents=True)
    store = RecordStore(site["config"]["state_dir"])
    # the worker died after saving "created" and before submitting
    store.save(JobRecord(session_id=SID, owner_task="old", path=str(otf_path),
                         workflow="relion", host="gpu1", executor="slurm", status="created",
                         created=1700000000.0))
    slurm = FakeSlurm()
    run(site, slurm, iterations=3)
    assert not any("" in call[1:] for call in slurm.runner.calls), slurm.runner.calls
    assert slurm.submits == 1 and otf_of(site)["status"] == "queued"


def test_an_sbatch_timeout_stays_submitting_and_finds_the_job_by_name(
        site: dict[str, Any]) -> None:
    slurm = FakeSlurm()

    def slow_sbatch(argv: tuple[str, ...]) -> Any:
        slurm.sbatch(argv)  # the controller took the job; sbatch did not answer in time
        return CommandTimeout(argv, "sbatch timed out after 30 s")
    slurm.runner.responses["sbatch"] = slow_sbatch
    result = run(site, slurm, iterations=2)
    assert otf_of(site)["status"] == "submitting" and "not confirmed" in str(
        result.last.get("error"))
    again = run(site, slurm, iterations=1)
    assert otf_of(site)["status"] == "queued" and otf_of(site)["job_id"] == "100"
    assert slurm.submits == 1 and "failed" not in json.dumps(again.events)


# -- stop and clear that do not confirm ---------------------------------------------------
def test_a_cancel_that_times_out_stays_stopping_and_is_retried(site: dict[str, Any],
                                                               monkeypatch: Any) -> None:
    monkeypatch.setattr("emworker_session_otf.jobs.CONFIRM_SECONDS", 0.0)
    slurm = FakeSlurm()
    run(site, slurm, iterations=2)
    slurm.jobs["100"] = "RUNNING"
    slurm.runner.responses["scancel"] = CommandTimeout(("scancel", "100"), "timed out")
    stop = run(site, slurm, iterations=1, stop=1)
    assert otf_of(site)["status"] == "stopping" and slurm.jobs["100"] == "RUNNING"
    assert "timed out" in str(stop.last.get("error")) and "done" not in stop.last
    clear = run(site, slurm, iterations=2, clear=1)
    assert "clear refused" in json.dumps(clear.events) and slurm.submits == 1
    assert not clear.done and otf_of(site)["status"] == "stopping"  # it keeps cancelling
    assert (site["tmp"] / "otf" / "S42_OTF").is_dir()  # nothing moved while it may run
    slurm.runner.responses["scancel"] = slurm.scancel  # the controller answers again
    again = run(site, slurm, iterations=1, stop=1)
    assert again.last["otf_status"] == "stopped" and slurm.jobs["100"] == "CANCELLED"
    assert otf_of(site)["status"] == "stopped"


def test_a_clear_whose_cancel_is_not_confirmed_goes_on_as_a_stop_task(
        site: dict[str, Any], monkeypatch: Any) -> None:
    monkeypatch.setattr("emworker_session_otf.jobs.CONFIRM_SECONDS", 0.0)
    slurm = FakeSlurm()
    run(site, slurm, iterations=2)
    slurm.jobs["100"] = "RUNNING"
    slurm.runner.responses["scancel"] = CommandTimeout(("scancel", "100"), "timed out")
    clear = handler(site, slurm.runner, clear=1)  # a queued job, no stop before
    record = RecordStore(site["config"]["state_dir"]).load(SID)
    assert not clear.finished and record is not None and record.status == "stopping"
    assert otf_of(site)["status"] == "stopping" and clear.interval >= 1.0
    clear.process()  # the cancel times out again: said, retried
    assert not clear.finished and slurm.jobs["100"] == "RUNNING"
    slurm.runner.responses["scancel"] = slurm.scancel
    clear.process()
    assert clear.finished and slurm.jobs["100"] == "CANCELLED"
    assert otf_of(site)["status"] == "stopped" and slurm.submits == 1
    assert (site["tmp"] / "otf" / "S42_OTF").is_dir()  # a clear moves only once it is gone


def test_a_corrupt_record_is_set_aside_by_clear(site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    state = Path(site["config"]["state_dir"])
    state.mkdir()
    (state / f"session-{SID}.json").write_text("{not json")
    assert "unreadable" in str(run(site, slurm, iterations=1).last["error"])
    run(site, slurm, iterations=2, clear=1)
    assert slurm.submits == 1 and otf_of(site)["status"] == "queued"
    assert list(state.glob(f"session-{SID}.cleared-*"))


def test_statuses_are_published_as_they_are(site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    seen: list[str] = []
    emhub = site["emhub"]
    real = emhub.update_session_extra

    def spy(sid: int, extra: Any) -> Any:
        seen.append(extra["otf"]["status"])
        return real(sid, extra)
    emhub.update_session_extra = spy
    run(site, slurm, iterations=2)
    run(site, slurm, iterations=1, stop=1)
    assert seen[:3] == ["created", "submitting", "queued"] and seen[-2:] == ["stopping",
                                                                            "stopped"]
