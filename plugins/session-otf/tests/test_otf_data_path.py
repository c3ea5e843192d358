"""``data_path`` is always a folder EMhub 1.0.2's live view renders once ``extra.otf.status``
is past ``created``: the OTF folder of a Scipion workflow once it holds ``project.sqlite``,
else the status view (``project.py``); never a folder that does not exist."""
# ruff: noqa: F811 - `site` is the fixture imported below and each test's argument

from __future__ import annotations

from pathlib import Path
from typing import Any

from emworker_session_otf.project import STATUS_VIEW
from test_otf_handler import SID, FakeSlurm, otf_of, run

try:  # the `site` fixture: in test_otf_handler.py here, in conftest.py once it moves there
    from test_otf_handler import site  # noqa: F401
except ImportError:
    pass


def data_paths(site: dict[str, Any]) -> list[str]:
    return [c[1][1] for c in site["emhub"].calls if c[0] == "set_session_data_path"]


def published(site: dict[str, Any]) -> list[dict[str, Any]]:
    return [c[1][1]["otf"] for c in site["emhub"].calls if c[0] == "update_session_extra"]


def otf_path(site: dict[str, Any]) -> Path:
    return Path(site["tmp"]) / "otf" / "S42_OTF"


def view(site: dict[str, Any]) -> Path:
    return Path(site["tmp"]) / "otf" / STATUS_VIEW


def test_past_created_data_path_is_the_status_view_before_any_status_shows(
        site: dict[str, Any]) -> None:
    slurm = FakeSlurm()
    run(site, slurm, iterations=3)
    assert otf_of(site)["status"] == "queued"
    assert data_paths(site) == [str(view(site))]
    assert (view(site) / "project.sqlite").is_file()  # EMhub reads it as a Scipion project
    calls = [c[0] for c in site["emhub"].calls]
    first_live = next(i for i, c in enumerate(site["emhub"].calls)
                      if c[0] == "update_session_extra" and c[1][1]["otf"]["status"] != "created")
    assert calls.index("set_session_data_path") < first_live
    # EMhub copies a non-empty extra.otf.path into data_path: it is never anything else
    assert {otf["path"] for otf in published(site)} == {"", str(view(site))}
    assert all(otf["folder"] == str(otf_path(site)) for otf in published(site))
    assert site["emhub"].sessions[SID]["data_path"] == str(view(site))
    slurm.jobs["100"] = "RUNNING"
    run(site, slurm, iterations=1)  # a task of a new start finds the same folder ("folder")
    assert otf_of(site)["status"] == "running" and slurm.submits == 1


def test_a_scipion_project_becomes_data_path_once_it_exists(site: dict[str, Any]) -> None:
    site["config"]["workflows"]["relion"]["project"] = "scipion"
    slurm = FakeSlurm()
    run(site, slurm, iterations=3)
    assert data_paths(site) == [str(view(site))]  # no project.sqlite yet
    (otf_path(site) / "project.sqlite").write_bytes(b"")
    slurm.jobs["100"] = "RUNNING"
    run(site, slurm, iterations=2)
    assert data_paths(site)[-1] == str(otf_path(site))
    assert site["emhub"].sessions[SID]["data_path"] == str(otf_path(site))
    assert otf_of(site)["path"] == otf_of(site)["folder"] == str(otf_path(site))


def test_a_session_stopped_while_waiting_never_points_at_its_otf_folder(
        site: dict[str, Any]) -> None:
    site["config"]["workflows"]["relion"]["project"] = "scipion"
    site["config"]["min_movies"] = 10
    otf_path(site).mkdir(parents=True)  # even a project left over from an earlier run
    (otf_path(site) / "project.sqlite").write_bytes(b"")
    slurm = FakeSlurm()
    run(site, slurm, iterations=2)
    stop = run(site, slurm, iterations=1, stop=1)
    assert stop.last["otf_status"] == "stopped" and otf_of(site)["status"] == "stopped"
    assert data_paths(site) == [str(view(site))]
    assert site["emhub"].sessions[SID]["data_path"] == str(view(site))
    assert slurm.submits == 0


def test_the_status_view_follows_no_link(site: dict[str, Any]) -> None:
    elsewhere = Path(site["tmp"]) / "elsewhere"
    elsewhere.mkdir()
    (Path(site["tmp"]) / "otf").mkdir()
    view(site).symlink_to(elsewhere)  # a job may write under the OTF root
    run(site, FakeSlurm(), iterations=3)
    assert list(elsewhere.iterdir()) == []
    assert data_paths(site) == []  # not published; said in the log, retried next step


def test_a_relion_project_is_refused_before_anything_is_made(site: dict[str, Any]) -> None:
    site["config"]["workflows"]["relion"]["project"] = "relion"
    slurm = FakeSlurm()
    result = run(site, slurm)
    error = str(result.last["error"])
    assert result.last["done"] == 1 and error.startswith("refused: ")
    assert "RELION" in error and "scipion" in error
    assert not otf_path(site).exists() and slurm.runner.calls == []


def test_clear_takes_the_status_off_before_it_empties_data_path(site: dict[str, Any]) -> None:
    """A stopped session's live view needs its data_path: after a clear EMhub must show the
    details view (no status) before data_path is emptied."""
    slurm = FakeSlurm()
    run(site, slurm, iterations=3)
    run(site, slurm, iterations=1, stop=1)
    site["config"]["min_movies"] = 10  # the new run waits
    calls_before = len(site["emhub"].calls)
    run(site, slurm, iterations=1, clear=1)
    after = [c for c in site["emhub"].calls[calls_before:]
             if c[0] in ("update_session_extra", "set_session_data_path")]
    assert [c[0] for c in after[-2:]] == ["update_session_extra", "set_session_data_path"]
    otf = otf_of(site)
    assert "status" not in otf and otf["path"] == "" and otf["folder"] == str(otf_path(site))
    assert site["emhub"].sessions[SID]["data_path"] == ""
