"""The in-memory EMhub and scripted Slurm the handler tests share (``site``, ``run``)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import Any

import pytest
from emworker_session_otf.handler import OtfHandler

from emhub_worker_core.testing import FakeEMhub, FakeRunner, make_context, run_handler

SID = 42


class FakeSlurm:
    """sbatch/squeue/scontrol/scancel over a dict of jobs: state, name and user of each."""

    def __init__(self, user: str = "") -> None:
        self.jobs: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.users: dict[str, str] = {}
        self.user = user or pwd.getpwuid(os.geteuid()).pw_name  # who sbatch runs jobs as
        self.exit = "0:0"
        runner = FakeRunner({"sbatch": self.sbatch, "squeue": self.squeue,
                             "scontrol": self.scontrol, "scancel": self.scancel,
                             "sacct": ("", "Slurm accounting storage is disabled", 1)})
        self.runner = runner

    def add(self, job_id: str, state: str, name: str, user: str = "") -> None:
        self.jobs[job_id], self.names[job_id] = state, name
        self.users[job_id] = user or self.user

    def sbatch(self, argv: tuple[str, ...]) -> str:
        job_id = str(100 + len(self.jobs))
        name = next(a.split("=", 1)[1] for a in argv if a.startswith("--job-name="))
        self.add(job_id, "PENDING", name)
        return f"{job_id}\n"

    def squeue(self, argv: tuple[str, ...]) -> Any:
        if "-j" not in argv:  # the whole queue, id|name|user|state
            return "".join(f"{i}|{self.names[i]}|{self.users[i]}|{s}\n"
                           for i, s in self.jobs.items()
                           if s in ("PENDING", "RUNNING", "COMPLETING"))
        return (f"{self.jobs[argv[3]]}\n", "", 0) if argv[3] in self.jobs else ("", "x", 1)

    def scontrol(self, argv: tuple[str, ...]) -> Any:
        job = argv[-1]
        return (f"JobId={job} JobName={self.names[job]} UserId={self.users[job]}(0) "
                f"JobState={self.jobs[job]} ExitCode={self.exit}\n"
                if job in self.jobs else ("", "slurm_load_jobs error: Invalid job id "
                                          "specified", 1))

    def scancel(self, argv: tuple[str, ...]) -> str:
        self.jobs[argv[1]] = "CANCELLED"
        return ""

    @property
    def submits(self) -> int:
        return sum(call[0] == "sbatch" for call in self.runner.calls)


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Any]:
    return make_site(tmp_path)


def make_site(tmp_path: Path) -> dict[str, Any]:
    """Session 42 (raw folder S42, three movies, a gain), its EMhub and plugin config."""
    raw = tmp_path / "raw" / "S42"
    (raw / "Data").mkdir(parents=True)
    for n in range(3):
        (raw / "Data" / f"FoilHole_{n}_fractions.tiff").write_bytes(b"x")
    (tmp_path / "raw" / "gains").mkdir()
    (tmp_path / "raw" / "gains" / "Krios01_gain.mrc").write_bytes(b"g")
    emhub = FakeEMhub(
        configs={"sessions": {
            "raw": {"root": str(tmp_path / "raw")},
            "otf": {"root": str(tmp_path / "otf"), "workflows": {"relion": {
                "partition": "cryo-gpu"}}},
            "acquisition": {"Krios01": {"voltage": 300}},
            "data": {"gain": str(tmp_path / "raw" / "gains" / "{microscope}_gain.mrc")}}},
        sessions=[{"id": SID, "name": "S42", "resource": {"name": "Krios01"},
                   "extra": {"raw": {"path": str(raw)},
                             "otf": {"workflow": "relion", "host": "gpu1", "path": ""}}}])
    config = {"min_movies": 3, "quiet_seconds": 0, "period": 0,
              "state_dir": str(tmp_path / "state"),
              "workflows": {"relion": {  # the program from here; EMhub adds options
                  "argv": ["/opt/otf/relion", "{movies_list}", "{session_id}"],
                  "executor": "slurm", "gpus": 1}}}
    return {"emhub": emhub, "config": config, "raw": raw, "tmp": tmp_path}


def run(site: dict[str, Any], slurm: FakeSlurm, iterations: int = 4, **args: Any) -> Any:
    return run_handler(OtfHandler, {"name": "session", "args": {
        "action": "otf", "session_id": SID, **args}}, iterations=iterations,
        config=site["config"], services=site["emhub"], runner=slurm.runner)


def otf_of(site: dict[str, Any]) -> dict[str, Any]:
    return dict(site["emhub"].sessions[SID]["extra"]["otf"])


def spoof(site: dict[str, Any], **otf: Any) -> None:
    site["emhub"].sessions[SID]["extra"]["otf"].update(otf)


def handler(site: dict[str, Any], runner: Any, state: str = "state", **args: Any) -> OtfHandler:
    config = {**site["config"], "state_dir": str(site["tmp"] / state)}
    h = OtfHandler(make_context({"name": "session", "args": {"session_id": SID, **args}},
                                config=config, services=site["emhub"], runner=runner))
    h.setup()
    return h
