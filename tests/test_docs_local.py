"""The tasks file shown in docs/local-runs.rst is served as the page says."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest

from emhub_worker_core import ServerError
from emhub_worker_core.sources.local import LocalTaskSource
from tests.test_docs_deployment import literal_block_after

PAGE = Path(__file__).resolve().parent.parent / "docs" / "local-runs.rst"


@pytest.fixture
def source(tmp_path: Path) -> tuple[LocalTaskSource, io.StringIO]:
    block = literal_block_after(PAGE.read_text(), "Every key is shown here", indent=4)
    path = tmp_path / "tasks.toml"
    path.write_text(block)
    events = io.StringIO()
    return LocalTaskSource(path, events=events), events


def test_the_documented_tasks_file_is_served(source: tuple[LocalTaskSource, io.StringIO]
                                            ) -> None:
    local, _ = source
    tasks = local.poll(threading.Event())
    assert [(t.id, t.name, t.action) for t in tasks] == [
        ("frames-1", "frames-monitor", None), ("local-2", "session", "transfer")]
    services = local.services
    assert services.request_config("sessions")["raw"]["root"] == "/data/offload"
    assert services.request_config("nothing") == {}
    assert services.get_session(301)["name"] == "20240301Krios01:S00301_grid1"
    with pytest.raises(ServerError):
        services.get_session(999)
    assert services.get_session_users(301)["group"] == "doegrp"
    assert services.get_session_users(999) == {}
    assert services.get_resources() == [{"id": 1, "name": "Krios01"}]


def test_session_updates_are_lines_as_documented(source: tuple[LocalTaskSource, io.StringIO]
                                                 ) -> None:
    local, events = source
    local.services.update_session_extra(301, {"raw": {"movies": 4}})
    line = json.loads(events.getvalue())
    assert set(line) == {"time", "session_id", "session_extra"}
    assert line["session_extra"] == {"raw": {"movies": 4}}
    assert local.services.get_session(301)["extra"] == {"raw": {"movies": 4}}


def test_task_event_lines_name_the_plugin(tmp_path: Path) -> None:
    from emhub_worker_core import Task

    path = tmp_path / "tasks.toml"
    path.write_text('[[tasks]]\nname = "echo"\n')
    events = io.StringIO()
    local = LocalTaskSource(path, events=events,
                            plugin_of=lambda task: "echo" if task.name == "echo" else None)
    local.send(Task("t1", "echo", {}), {"count": 1})
    local.send(Task("t2", "other", {}), {"error": "no handler", "done": 1})
    lines = [json.loads(line) for line in events.getvalue().splitlines()]
    assert [set(line) for line in lines] == [{"time", "task_id", "task", "plugin", "event"}] * 2
    assert [line["plugin"] for line in lines] == ["echo", None]
