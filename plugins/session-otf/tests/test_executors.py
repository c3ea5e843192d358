"""Executors on recorded outputs (LSF, Slurm) and on real local processes."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from emworker_session_otf.executors.base import (
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    STOPPED,
    UNKNOWN,
    ExecutorError,
    JobSpec,
)
from emworker_session_otf.executors.local import LocalExecutor
from emworker_session_otf.executors.lsf import LsfExecutor
from emworker_session_otf.executors.slurm import JOB_SCRIPT, SlurmExecutor, exit_code

from emhub_worker_core.testing import FakeRunner

DATA = Path(__file__).resolve().parent / "data"


def recorded(name: str) -> str:
    return (DATA / name).read_text()


def spec(tmp_path: Path, argv: tuple[str, ...] = ("/opt/otf/run", "a b;c"),
         **options: str) -> JobSpec:
    return JobSpec("emworker-otf-7-1", argv, tmp_path, tmp_path / "otf-submit.log", options)


# -- LSF ----------------------------------------------------------------------------------
def test_lsf_submit_quotes_each_item_for_the_remote_shell(tmp_path: Path) -> None:
    runner = FakeRunner({"bsub": recorded("bsub_submitted.txt")})
    job_id = LsfExecutor(runner).submit(spec(tmp_path, queue="gpu", gpus="1", time="60"))
    assert job_id == "4711"
    argv = runner.calls[0]
    assert argv[:7] == ("bsub", "-J", "emworker-otf-7-1", "-cwd", str(tmp_path), "-o",
                        str(tmp_path / "otf-%J.log"))
    assert ("-q", "gpu") == argv[7:9] and "num=1" in argv and "60" in argv
    assert argv[-2:] == ("/opt/otf/run", "'a b;c'")


@pytest.mark.parametrize("output, status, code", [
    ("bjobs_pend.txt", QUEUED, None), ("bjobs_run.txt", RUNNING, None),
    ("bjobs_done.txt", FINISHED, 0), ("bjobs_exit.txt", FAILED, 7)])
def test_lsf_states(output: str, status: str, code: int | None) -> None:
    state = LsfExecutor(FakeRunner({"bjobs": recorded(output)})).state("4711")
    assert (state.status, state.exit_code) == (status, code)


def test_lsf_job_not_found_and_cancel_of_finished_job() -> None:
    runner = FakeRunner({"bjobs": ("", recorded("bjobs_notfound.stderr"), 255),
                         "bkill": ("", recorded("bkill_finished.stderr"), 255)})
    executor = LsfExecutor(runner)
    assert executor.state("4711").status == UNKNOWN
    executor.cancel("4711")  # already finished: not an error
    assert runner.calls[-1] == ("bkill", "4711")


def test_lsf_refusals_and_find() -> None:
    runner = FakeRunner({"bjobs": recorded("bjobs_jobs.txt"),
                         "bsub": "Request aborted by esub. Job not submitted.\n"})
    executor = LsfExecutor(runner)
    assert executor.find("emworker-otf-7-1-1") == "4711"
    assert [(j.job_id, j.user) for j in executor.live_jobs("emworker-otf-7-")] == [
        ("4711", "emwotf"), ("4712", "alice")]  # whose it is: the handler decides
    with pytest.raises(ExecutorError, match="no job id"):
        executor.submit(spec(Path("/tmp")))
    with pytest.raises(ExecutorError, match="not supported"):
        executor.submit(spec(Path("/tmp"), partition="x"))


# -- Slurm (outputs as sbatch/squeue/sacct 22.05 print them, see /shared samples) ----------
def test_slurm_submit_argv(tmp_path: Path) -> None:
    runner = FakeRunner({"sbatch": "17\n"})
    job_id = SlurmExecutor(runner).submit(spec(tmp_path, partition="cryo-gpu", gpus="2",
                                              user="emw_alice"))
    assert job_id == "17"
    assert runner.calls[0] == (
        "sbatch", "--parsable", "--job-name=emworker-otf-7-1", f"--chdir={tmp_path}",
        f"--output={tmp_path / 'otf-%j.log'}", "--export=NONE", "--partition=cryo-gpu",
        "--uid=emw_alice",
        "--gres=gpu:2", str(JOB_SCRIPT), "/opt/otf/run", "a b;c")


def test_slurm_state_from_squeue_then_completion_log() -> None:
    def squeue(argv: tuple[str, ...]) -> tuple[str, str, int]:
        return ("RUNNING\n", "", 0) if argv[3] == "5" else \
            ("", "slurm_load_jobs error: Invalid job id specified", 1)
    runner = FakeRunner({
        "squeue": squeue,
        "scontrol": ("", "slurm_load_jobs error: Invalid job id specified", 1),
        ("sacct", "-n", "-P", "-X", "-j", "2", "-o", "JobID,State,ExitCode"):
            ("", "Slurm accounting storage is disabled", 1),
        ("sacct", "-n", "-P", "-c", "-j", "2", "-o", "JobID,State,ExitCode"):
            "2|FAILED|3:0\n"})
    executor = SlurmExecutor(runner)
    assert executor.state("5").status == RUNNING
    state = executor.state("2")
    assert (state.status, state.exit_code) == (FAILED, 3)


def test_slurm_state_from_scontrol_while_the_controller_remembers() -> None:
    line = ("JobId=8 JobName=to_cancel UserId=root(0) JobState=CANCELLED Reason=None "
            "Dependency=(null) ExitCode=0:15 RunTime=00:00:00\n")
    runner = FakeRunner({"squeue": "CANCELLED\n", "scontrol": line})
    state = SlurmExecutor(runner).state("8")
    assert (state.status, state.exit_code) == (STOPPED, 143)


def test_slurm_exit_codes_and_bad_sbatch_output(tmp_path: Path) -> None:
    assert exit_code("0:0") == 0 and exit_code("3:0") == 3 and exit_code("0:9") == 137
    assert exit_code("") is None
    with pytest.raises(ExecutorError):
        SlurmExecutor(FakeRunner({"sbatch": "sbatch: error: invalid partition\n"})).submit(
            spec(tmp_path))
    with pytest.raises(ExecutorError, match="pattern"):
        SlurmExecutor(FakeRunner({"sbatch": "1\n"})).submit(spec(tmp_path / "a%jb"))


# -- local --------------------------------------------------------------------------------
def wait_until(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_local_job_runs_in_its_own_group_with_log_and_exit_status(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path)
    script = "import os,sys; print('pgid', os.getpgid(0) == os.getpid()); sys.exit(5)"
    job_id = executor.submit(spec(tmp_path, (sys.executable, "-c", script)))
    pid = int(job_id.split(":")[0])
    wait_until(lambda: executor.state(job_id).status != RUNNING)
    state = executor.state(job_id)
    assert (state.status, state.exit_code) == (FAILED, 5)
    log = executor.log_path(tmp_path / "otf-submit.log", job_id)
    assert log.read_text() == "pgid False\n"  # the child is in the wrapper's group...
    assert os.getpgid(0) != pid                # ...which is not ours


def test_local_pid_reused_by_another_process_is_not_our_job(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path)
    me = os.getpid()
    # our own PID, but a different start time: someone else's process
    assert executor.state(f"{me}:1").status == UNKNOWN
    executor.cancel(f"{me}:1")  # must not signal us
    with pytest.raises(ExecutorError):
        executor.state("not-a-job")


def test_local_cancel_ends_the_group(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path)
    job_id = executor.submit(spec(tmp_path, (sys.executable, "-c",
                                             "import time; time.sleep(60)")))
    assert executor.state(job_id).status == RUNNING
    executor.cancel(job_id)
    wait_until(lambda: executor.state(job_id).status != RUNNING)
    state = executor.state(job_id)
    assert (state.status, state.exit_code) == (FAILED, 143)


def test_local_cancel_kills_a_job_that_ignores_sigterm_and_leaves_no_zombie(
        tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path, kill_after=1.0)
    script = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "time.sleep(120)")
    job_id = executor.submit(spec(tmp_path, (sys.executable, "-c", script)))
    pid = int(job_id.split(":")[0])
    wait_until(lambda: len(list(tmp_path.glob("otf-local-*.log"))) == 1)
    time.sleep(0.5)  # the workflow has set its SIGTERM handler
    started = time.monotonic()
    executor.cancel(job_id)
    assert time.monotonic() - started < 20
    assert not Path(f"/proc/{pid}").exists(), "the wrapper is still there (or a zombie)"
    assert executor.state(job_id).status in (FAILED, UNKNOWN)


def test_local_job_gets_only_the_allowed_environment(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMHUB_PASSWORD", "hunter2")
    executor = LocalExecutor(tmp_path)
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    job_id = executor.submit(JobSpec("emworker-otf-7-1-1", ("/usr/bin/env",), tmp_path,
                                     tmp_path / "otf-submit.log", {}, env))
    wait_until(lambda: executor.state(job_id).status != RUNNING)
    printed = executor.log_path(tmp_path / "otf-submit.log", job_id).read_text()
    assert "hunter2" not in printed and "EMHUB_PASSWORD" not in printed
    assert sorted(line.split("=")[0] for line in printed.splitlines()) == ["LANG", "PATH"]


@pytest.mark.parametrize("job_id", ["--user=alice", "0", "", "1 2", "-1", "٣"])
def test_scheduler_job_ids_are_digits_only(job_id: str) -> None:
    runner = FakeRunner({"scancel": "", "bkill": "", "squeue": "", "bjobs": "",
                         "scontrol": ""})
    for executor in (SlurmExecutor(runner), LsfExecutor(runner)):
        with pytest.raises(ExecutorError, match="not a job id"):
            executor.cancel(job_id)
        with pytest.raises(ExecutorError, match="not a job id"):
            executor.state(job_id)
    assert runner.calls == []
    with pytest.raises(ExecutorError, match="not a job id"):
        LocalExecutor(Path("/tmp")).cancel(job_id)
