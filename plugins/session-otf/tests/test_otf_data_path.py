"""``data_path`` is set only to a project EMhub 1.0.2's session page can show (a Scipion
folder with ``project.sqlite``), only after a submit, never on a stop while waiting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_otf_handler import SID, FakeSlurm, otf_of, run

try:  # the `site` fixture: in test_otf_handler.py here, in conftest.py once it moves there
    from test_otf_handler import site  # noqa: F401
except ImportError:
    pass


def data_paths(site: dict[str, Any]) -> list[str]:
    return [c[1][1] for c in site["emhub"].calls if c[0] == "set_session_data_path"]


def otf_path(site: dict[str, Any]) -> Path:
    return Path(site["tmp"]) / "otf" / "S42_OTF"


def test_a_scipion_project_becomes_data_path_once_it_exists(site: dict[str, Any]) -> None:
    site["config"]["workflows"]["relion"]["project"] = "scipion"
    slurm = FakeSlurm()
    run(site, slurm, iterations=3)
    assert otf_of(site)["status"] == "queued" and otf_path(site).is_dir()
    assert data_paths(site) == []  # a folder without project.sqlite fails EMhub's page
    (otf_path(site) / "project.sqlite").write_bytes(b"")
    slurm.jobs["100"] = "RUNNING"
    run(site, slurm, iterations=2)
    assert data_paths(site) == [str(otf_path(site))]
    assert site["emhub"].sessions[SID]["data_path"] == str(otf_path(site))


def test_a_session_stopped_while_waiting_never_gets_a_data_path(site: dict[str, Any]) -> None:
    site["config"]["workflows"]["relion"]["project"] = "scipion"
    site["config"]["min_movies"] = 10
    otf_path(site).mkdir(parents=True)  # even a project left over from an earlier run
    (otf_path(site) / "project.sqlite").write_bytes(b"")
    slurm = FakeSlurm()
    run(site, slurm, iterations=2)
    stop = run(site, slurm, iterations=1, stop=1)
    assert stop.last["otf_status"] == "stopped" and otf_of(site)["status"] == "stopped"
    assert data_paths(site) == [] and "data_path" not in site["emhub"].sessions[SID]
    assert slurm.submits == 0


def test_a_relion_project_is_refused_before_anything_is_made(site: dict[str, Any]) -> None:
    site["config"]["workflows"]["relion"]["project"] = "relion"
    slurm = FakeSlurm()
    result = run(site, slurm)
    error = str(result.last["error"])
    assert result.last["done"] == 1 and error.startswith("refused: ")
    assert "RELION" in error and "scipion" in error
    assert not otf_path(site).exists() and slurm.runner.calls == []
