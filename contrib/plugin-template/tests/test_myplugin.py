from pathlib import Path

from emworker_myplugin.handler import MyPluginHandler

from emhub_worker_core import Outcome
from emhub_worker_core.testing import run_handler


def test_counts_files_then_done(tmp_path: Path) -> None:
    (tmp_path / "a.tiff").write_bytes(b"x")
    (tmp_path / "b.xml").write_bytes(b"y")
    run = run_handler(MyPluginHandler, {"name": "myplugin",
                                        "args": {"folder": str(tmp_path), "times": 2}},
                      iterations=None)
    assert run.outcome is Outcome.DONE
    assert run.events[0] == {"folder": str(tmp_path), "files": 2}
    assert run.last == {"files": 2, "done": 1}


def test_folder_outside_the_allowed_root_is_refused(tmp_path: Path) -> None:
    run = run_handler(MyPluginHandler, {"name": "myplugin", "args": {"folder": "/etc"}},
                      config={"allowed_root": str(tmp_path)})
    assert run.outcome is Outcome.FAILED and "outside the allowed root" in run.last["error"]


def test_missing_folder_is_an_error_event_and_the_task_goes_on(tmp_path: Path) -> None:
    run = run_handler(MyPluginHandler, {"name": "myplugin",
                                        "args": {"folder": str(tmp_path / "gone")}},
                      iterations=2)
    assert run.outcome is Outcome.EXHAUSTED
    assert len(run.errors) == 2 and "No such file" in run.errors[0]["error"]


def test_a_bad_setting_from_the_task_is_an_error_event_with_done(tmp_path: Path) -> None:
    run = run_handler(MyPluginHandler, {"name": "myplugin",
                                        "args": {"folder": str(tmp_path), "times": -1}})
    assert run.outcome is Outcome.FAILED and run.last["done"] == 1
    assert run.last["error"] == "task arg 'times': must be at least 0, got -1"
