"""End to end on the real EMhub (and the real one-node Slurm): a session's OTF job submitted,
fed while it runs, re-attached after the worker is SIGKILLed, stopped, and failing.

The same scenarios run on the ``local`` executor. Measurements (transition times and
latencies) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from emworker_testkit.slurm_cluster import SlurmCluster
from scenario import QUIET, OtfScenario, end_local_jobs

pytestmark = pytest.mark.emhub
EXECUTORS = ["local", pytest.param("slurm", marks=pytest.mark.slurm)]
SESSION = {"local": 302, "slurm": 303}


def job_alive(executor: str, job_id: str, cluster: SlurmCluster | None) -> bool:
    if executor == "slurm":
        assert cluster is not None
        return cluster.run("squeue", "-h", "-j", job_id, "-o", "%T").strip() in (
            "RUNNING", "PENDING", "COMPLETING")
    pid, start = job_id.split(":")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == start and fields[0] != "Z"


def sacct_jobs(cluster: SlurmCluster, name: str) -> list[str]:
    """``JobID|State`` of the finished jobs called ``name``, from ``sacct -c`` (the harness
    has no accounting database, only the job completion log; ``--name`` is ignored there,
    so the name is filtered here). Polled: the log is written as the job completes."""
    lines: list[str] = []
    for _ in range(100):
        out = cluster.run("sacct", "-c", "-n", "-P", "-o", "JobID,JobName,State")
        lines = [f"{i}|{state}" for i, job, state in
                 (line.split("|") for line in out.splitlines() if line.count("|") == 2)
                 if job == name]
        if lines:
            break
        time.sleep(0.2)
    return lines


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> Iterator[tuple[str, SlurmCluster | None]]:
    if request.param == "slurm":
        cluster: SlurmCluster = request.getfixturevalue("slurm_cluster")
        cluster.cancel_all()
        yield "slurm", cluster
        cluster.cancel_all()
    else:
        end_local_jobs(SESSION["local"])  # one left by an earlier test would be found by name
        yield "local", None


def make(emhub_server: Any, tmp_path: Path, executor: tuple[str, SlurmCluster | None],
         **kwargs: Any) -> OtfScenario:
    name, cluster = executor
    env = cluster.env if cluster is not None else None
    return OtfScenario(emhub_server, tmp_path, SESSION[name], name, env=env, **kwargs)


def test_job_fed_while_running_survives_sigkill_and_finishes(
        emhub_server: Any, tmp_path: Path,
        executor: tuple[str, SlurmCluster | None]) -> None:
    name, cluster = executor
    s = make(emhub_server, tmp_path, executor)
    try:
        task = s.create_task()
        s.start_worker()
        s.wait_for("the task to start", lambda: s.admin.task_status("bench.test", task) ==
                   "pending", 60)
        for _ in range(3):  # written once the worker watches, so settling is timed fairly
            s.add_movie()
        third_written = time.time()
        running = s.wait_status("running")
        job_id = running["job_id"]
        assert running["executor"] == name and job_id
        assert Path(running["folder"]) == s.otf.resolve()
        assert (s.otf / "data").resolve() == s.raw.resolve()
        assert json.loads((s.otf / "otf_params.json").read_text())["session_id"] == s.sid

        feed_latency = []
        for _ in range(3):  # movies while the job runs, one at a time
            movie = s.add_movie()
            written = time.time()
            s.wait_for(f"{movie.name} in the feed", lambda m=movie: str(m) in s.feed_lines(), 60)
            feed_latency.append(time.time() - written - QUIET)

        s.kill_worker()
        assert job_alive(name, job_id, cluster), "the job must outlive a SIGKILLed worker"
        s.add_movie()
        s.add_movie()  # these arrive while no worker runs
        s.start_worker()
        history = s.wait_done(task)
        otf = s.otf_extra()
        assert history[-1]["done"] == "1" and "error" not in history[-1], history[-1]
        assert otf["status"] == "finished" and otf["job_id"] == job_id
        assert otf["exit_code"] == 0 and otf["movies_fed"] == len(s.movies)
        assert [t["status"] for t in otf["transitions"]] == \
            ["created", "submitting", "queued", "running", "finished"]
        seen = [status for _t, status in s.seen]
        assert seen[-1] == "finished" and "running" in seen
        processed = sorted(p.name for p in (s.otf / "processed").iterdir())
        assert processed == sorted(f"{m.name}.out" for m in s.movies)
        lines = s.feed_lines()
        assert lines[-1] == "#END" and lines[:-1] == [str(m) for m in s.movies]
        if cluster is not None:
            jobs = sacct_jobs(cluster, otf["job_name"])
            assert [line.split("|")[0] for line in jobs] == [job_id], jobs  # one sbatch
        else:
            assert len(list(s.otf.glob("otf-local-*.status"))) == 1

        session = s.admin.get_session(s.sid)
        # not a project EMhub 1.0.2 can show: the status view (project.py)
        assert session["data_path"] == str(s.otf_root / ".emworker-status-view")
        page = s.admin.http.get(f"{s.admin.url}/get_content", timeout=30, params={
            "content_id": "session_default", "session_id": s.sid})
        assert page.status_code == 200, page.text[-2000:]  # the live view renders
        assert "ERROR:" not in page.text and ">finished<" in page.text, page.text[-2000:]

        record = s.record()
        ended = float((s.otf / "ended").read_text())
        times = {t["status"]: t["epoch"] for t in otf["transitions"]}
        print(f"\n[otf {name}] extra.otf transitions: "
              + ", ".join(f"{t['status']} {t['at']} ({t['epoch']:.3f})"
                          for t in otf["transitions"]))
        print(f"[otf {name}] 3rd movie settled -> submitted: "
              f"{record['submitted'] - third_written - QUIET:.2f} s "
              f"(ready_at -> submitted {record['submitted'] - record['ready_at']:.3f} s)")
        print(f"[otf {name}] movie settled -> line in the feed: "
              + ", ".join(f"{x:.2f} s" for x in feed_latency))
        print(f"[otf {name}] job end -> finished: {times['finished'] - ended:.2f} s")
    finally:
        s.close()


def test_stop_cancels_the_job(emhub_server: Any, tmp_path: Path,
                              executor: tuple[str, SlurmCluster | None]) -> None:
    name, cluster = executor
    s = make(emhub_server, tmp_path, executor, end_after_idle=600)
    try:
        for _ in range(3):
            s.add_movie()
        task = s.create_task()
        s.start_worker()
        job_id = s.wait_status("running")["job_id"]
        s.stop_worker()  # a clean shutdown (SIGTERM) leaves the job running...
        assert job_alive(name, job_id, cluster)
        s.start_worker()  # ...and the resumed task re-attaches to it
        stop = s.create_task(stop=1)
        stop_history = s.wait_done(stop)
        history = s.wait_done(task)
        otf = s.otf_extra()
        assert stop_history[-1]["otf_status"] == "stopped", stop_history
        assert history[-1]["otf_status"] == "stopped", history[-1]
        assert otf["status"] == "stopped" and otf["job_id"] == job_id
        assert "submitted" not in [e.get("msg") for e in history] and \
            sum(e.get("otf_status") == "queued" for e in history) == 1  # one submit
        s.wait_for("the job to end", lambda: not job_alive(name, job_id, cluster), 60)
        if cluster is not None:
            jobs = sacct_jobs(cluster, otf["job_name"])
            assert len(jobs) == 1 and "CANCELLED" in jobs[0], jobs
    finally:
        s.close()


def test_failing_workflow_reports_exit_code_and_log_tail_once(
        emhub_server: Any, tmp_path: Path, executor: tuple[str, SlurmCluster | None]) -> None:
    s = make(emhub_server, tmp_path, executor, fail=7)
    try:
        history, otf = s.run_session()
        assert otf["status"] == "failed" and otf["exit_code"] == 7, otf
        assert "failing on purpose" in otf["log_tail"]
        assert "last words of the workflow: exit 7" in otf["log_tail"]
        final = history[-1]
        assert final["otf_status"] == "failed" and final["exit_code"] == "7"
        assert "failing on purpose" in final["log_tail"] and "error" in final
        assert sum(e.get("otf_status") == "failed" for e in history) == 1
        assert os.path.isdir(s.otf)
    finally:
        s.close()
