"""session-otf trusts only what it made (issue 20), part two: one session, one folder (what
``extra.otf.path`` may name), the feed (names that would forge its lines), the job's
environment, and stops whatever EMhub now says. The in-memory EMhub and a scripted Slurm/LSF."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from emworker_session_otf.handler import OtfHandler
from emworker_session_otf.record import RecordStore
from otf_fakes import SID, FakeSlurm, handler, otf_of, run, spoof

from emhub_worker_core import CommandTimeout
from emhub_worker_core.testing import FakeRunner, run_handler


# -- one session, one folder --------------------------------------------------------------
def add_session(site: dict[str, Any], sid: int, name: str, otf_path: str = "") -> Path:
    raw = site["tmp"] / "raw" / name
    (raw / "Data").mkdir(parents=True)
    for n in range(3):
        (raw / "Data" / f"FoilHole_{n}_fractions.tiff").write_bytes(b"x")
    site["emhub"].sessions[sid] = {"id": sid, "name": name, "resource": {"name": "Krios01"},
                                   "extra": {"raw": {"path": str(raw)}, "otf": {
                                       "workflow": "relion", "path": otf_path}}}
    return raw


def run_sid(site: dict[str, Any], slurm: FakeSlurm, sid: int, iterations: int = 2,
            **args: Any) -> Any:
    return run_handler(OtfHandler, {"name": "session-otf", "args": {"session_id": sid,
                                                                    **args}},
                       iterations=iterations, config=site["config"], services=site["emhub"],
                       runner=slurm.runner)


def test_a_parent_folder_as_otf_path_is_never_cleared(site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    add_session(site, 43, "S43", otf_path="2026/S43_OTF")
    run_sid(site, slurm, 43)
    other = site["tmp"] / "otf" / "2026" / "S43_OTF"
    assert (other / "movies.txt").is_file()
    spoof(site, path="2026")  # session 42 names the folder holding 43's
    result = run(site, slurm, iterations=2, clear=1)
    assert "refused" in str(result.last["error"]) and "43" in str(result.last["error"])
    assert (other / "movies.txt").is_file() and not list(other.parent.parent.glob("*cleared*"))
    spoof(site, path="2026/S43_OTF")  # ...or 43's folder itself: never fed by 42
    feed = (other / "movies.txt").read_text()
    assert "refused" in str(run(site, slurm, iterations=3).last["error"])
    assert (other / "movies.txt").read_text() == feed and slurm.submits == 1


def test_an_unrecorded_folder_is_adopted_only_at_the_derived_path(site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    elsewhere = site["tmp"] / "otf" / "shared"
    elsewhere.mkdir(parents=True)
    (elsewhere / "results.star").write_text("someone's")
    spoof(site, path="shared")
    assert "did not make it" in str(run(site, slurm, iterations=3, clear=1).last["error"])
    assert (elsewhere / "results.star").is_file() and slurm.submits == 0
    spoof(site, path="")
    legacy = site["tmp"] / "otf" / "S42_OTF"  # made by the worker before this record existed
    legacy.mkdir()
    run(site, slurm, iterations=3)
    assert slurm.submits == 1 and (legacy / "movies.txt").is_file()


def test_another_sessions_raw_folder_is_refused(site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    run(site, slurm, iterations=2)
    add_session(site, 44, "S44")
    site["emhub"].sessions[44]["extra"]["raw"]["path"] = str(site["raw"])  # 42's movies
    assert "refused" in str(run_sid(site, slurm, 44).last["error"])
    site["emhub"].sessions[44]["extra"]["otf"]["path"] = "S44_OTF"  # its own OTF folder
    assert "session 42's raw folder" in str(run_sid(site, slurm, 44).last["error"])
    assert slurm.submits == 1


def test_a_spoofed_local_job_id_never_signals_a_process_that_is_not_our_job(
        site: dict[str, Any]) -> None:
    import subprocess
    import sys

    from emworker_session_otf.wrapper import proc_start_time
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                 start_new_session=True)
    try:
        site["config"]["workflows"]["relion"] = {"argv": ["/bin/true"], "executor": "local"}
        spoof(site, executor="local", status="running",
              job_id=f"{bystander.pid}:{proc_start_time(bystander.pid)}")
        stop = run(site, FakeSlurm(), iterations=1, stop=1)
        time.sleep(0.3)
        assert bystander.poll() is None, "a process that is not our job was signalled"
        assert "not this session's" in json.dumps(stop.events)
    finally:
        bystander.kill()
        bystander.wait()


# -- the feed -------------------------------------------------------------------------------
def test_names_that_would_forge_feed_lines_and_links_are_not_fed_and_are_named(
        site: dict[str, Any]) -> None:
    data = site["raw"] / "Data"
    (data / "x\n").mkdir()  # its movie's line would be ".../x" and "/FoilHole_9_..."
    (data / "x\n" / "FoilHole_9_fractions.tiff").write_bytes(b"x")
    (data / "a\r#END\r_fractions.tiff").write_bytes(b"x")
    (data / "link_fractions.tiff").symlink_to("/etc/passwd")
    slurm = FakeSlurm()
    result = run(site, slurm, iterations=3)
    feed = (site["tmp"] / "otf" / "S42_OTF" / "movies.txt").read_bytes()
    assert feed.count(b"\n") == 3 and b"#END" not in feed and b"passwd" not in feed
    assert b"link_" not in feed and b"\r" not in feed and b"FoilHole_9" not in feed
    errors = " ".join(str(e["error"]) for e in result.events if "error" in e)
    assert "control character" in errors and "link_fractions.tiff" in errors
    assert "\\r#END\\r" in errors and "x\\n" in errors  # named, escaped
    assert slurm.submits == 1


def test_an_unreadable_folder_is_reported(site: dict[str, Any], monkeypatch: Any) -> None:
    import os
    locked = site["raw"] / "Data" / "GridSquare_7"
    locked.mkdir()
    real_scandir = os.scandir

    def scandir(where: Any = ".") -> Any:
        if isinstance(where, int) and os.readlink(f"/proc/self/fd/{where}") == str(locked):
            raise PermissionError(13, "Permission denied")
        return real_scandir(where)
    monkeypatch.setattr(os, "scandir", scandir)
    result = run(site, FakeSlurm(), iterations=2)
    assert any("GridSquare_7" in str(e.get("error", "")) and "Permission denied" in
               str(e["error"]) for e in result.events), result.events


def test_movies_after_the_end_marker_are_reported(site: dict[str, Any]) -> None:
    site["config"]["end_after_idle"] = 0.001
    slurm = FakeSlurm()
    run(site, slurm, iterations=3)
    feed = site["tmp"] / "otf" / "S42_OTF" / "movies.txt"
    assert feed.read_text().endswith("#END\n")
    (site["raw"] / "Data" / "FoilHole_late_fractions.tiff").write_bytes(b"x")
    result = run(site, slurm, iterations=3)
    assert any("after the feed was ended" in str(e.get("error", "")) for e in result.events)
    assert "late" not in feed.read_text()


# -- the job's environment ------------------------------------------------------------------
class EnvRunner(FakeRunner):
    """Also records the environment each command was given."""

    def __init__(self, responses: Any) -> None:
        super().__init__(responses)
        self.envs: list[Any] = []

    def run(self, argv: Any, *, timeout: float = 60.0, check: bool = True,
            env: Any = None) -> Any:
        self.envs.append(env)
        return super().run(argv, timeout=timeout, check=check, env=env)


def test_bsub_is_given_the_job_environment_explicitly(site: dict[str, Any],
                                                      monkeypatch: Any) -> None:
    monkeypatch.setenv("EMHUB_PASSWORD", "hunter2")
    monkeypatch.setenv("LSF_ENVDIR", "/etc/lsf")
    site["config"]["workflows"]["relion"].update(executor="lsf")
    site["config"]["job_env"] = ["PATH", "HOME"]
    site["emhub"].configs["sessions"]["otf"]["workflows"]["relion"] = {}
    runner = EnvRunner({"bsub": "Job <4711> is submitted to default queue <normal>.\n",
                        "bjobs": ("", "No unfinished job found\n", 255)})
    run_handler(OtfHandler, {"name": "session", "args": {"session_id": SID}}, iterations=2,
                config=site["config"], services=site["emhub"], runner=runner)
    [(index, bsub)] = [(i, c) for i, c in enumerate(runner.calls) if c[0] == "bsub"]
    assert bsub[bsub.index("-env") + 1] == "HOME, PATH"
    env = runner.envs[index]
    assert env is not None and "EMHUB_PASSWORD" not in env and env["LSF_ENVDIR"] == "/etc/lsf"
    assert set(env) == {"PATH", "HOME", "LSF_ENVDIR"}


def test_a_gain_pattern_that_matches_nothing_gives_an_empty_gain(site: dict[str, Any]) -> None:
    site["emhub"].configs["sessions"]["data"]["gain"] = "/nonexistent/gains/{microscope}_*.mrc"
    site["config"]["workflows"]["relion"]["argv"] = ["/opt/otf/relion", "--gain={gain}"]
    slurm = FakeSlurm()
    result = run(site, slurm, iterations=2)
    sbatch = next(c for c in slurm.runner.calls if c[0] == "sbatch")
    assert sbatch[-1] == "--gain="  # the README: {gain} is the empty string
    params = json.loads((site["tmp"] / "otf" / "S42_OTF" / "otf_params.json").read_text())
    assert params["gain"] == "" and params["microscope"] == "Krios01"
    created = next(e for e in result.events if e.get("otf_status") == "created")
    assert created["gain"] == "" and otf_of(site)["status"] == "queued"


def test_a_job_another_host_submitted_at_the_same_moment_wins_and_ours_is_cancelled(
        site: dict[str, Any]) -> None:
    slurm = FakeSlurm()

    def racing_sbatch(argv: tuple[str, ...]) -> Any:
        slurm.add("99", "PENDING", f"emworker-otf-{SID}-1699999999-1")  # host B, just before
        return slurm.sbatch(argv)
    slurm.runner.responses["sbatch"] = racing_sbatch
    result = run(site, slurm, iterations=2)
    assert slurm.jobs["101"] == "CANCELLED" and slurm.jobs["99"] == "PENDING"
    assert "another host first" in str(result.last["msg"])
    assert RecordStore(site["config"]["state_dir"]).load(SID) is None


def test_the_raw_folder_comes_from_the_session_only(site: dict[str, Any]) -> None:
    other = add_session(site, 45, "S45")
    slurm = FakeSlurm()
    run(site, slurm, iterations=2, raw=str(other))  # a task argument naming another's
    params = json.loads((site["tmp"] / "otf" / "S42_OTF" / "otf_params.json").read_text())
    assert params["raw_path"] == str(site["raw"].resolve())


def test_the_tracking_task_ends_only_once_the_stop_is_confirmed(site: dict[str, Any],
                                                                monkeypatch: Any) -> None:
    monkeypatch.setattr("emworker_session_otf.jobs.CONFIRM_SECONDS", 0.0)
    slurm = FakeSlurm()
    tracking = handler(site, slurm.runner)
    tracking.process()
    tracking.process()  # job 100 submitted and tracked by this task
    slurm.jobs["100"] = "RUNNING"
    slurm.runner.responses["scancel"] = CommandTimeout(("scancel", "100"), "timed out")
    run(site, slurm, iterations=1, stop=1)
    tracking.process()
    assert not tracking.finished and slurm.jobs["100"] == "RUNNING"
    assert tracking.snapshot().get("otf_status") in (None, "stopping")
    slurm.runner.responses["scancel"] = slurm.scancel
    run(site, slurm, iterations=1, stop=1)
    tracking.process()
    assert tracking.finished and otf_of(site)["status"] == "stopped"


def test_a_stop_works_whatever_extra_otf_path_now_names(site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    run(site, slurm, iterations=2)
    slurm.jobs["100"] = "RUNNING"
    spoof(site, path="elsewhere")  # refused for feeding and clearing, not for stopping
    site["emhub"].sessions[SID]["name"] = "--wrap=x"
    site["config"]["workflows"]["relion"]["argv"] = ["/opt/otf/relion", "{session_name}"]
    stop = run(site, slurm, iterations=1, stop=1)
    assert stop.last["otf_status"] == "stopped" and slurm.jobs["100"] == "CANCELLED"
