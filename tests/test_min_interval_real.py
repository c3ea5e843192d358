"""The min_interval floor on the real EMhub + Redis: a task asking for no wait at all
(echo ``interval = 0``) gets its events at least ``min_interval`` apart in the history.

EMhub's stream ids carry the millisecond the event was stored; the check is a lower bound
only (load can only widen the gaps), with 50 ms allowed for the request's own jitter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from emworker_testkit.emhub_admin import AdminClient
from emworker_testkit.emhub_server import EMhubServer
from emworker_testkit.emhub_worker import WorkerProcess, wait_for

pytestmark = pytest.mark.emhub


@pytest.fixture
def admin(emhub_server: EMhubServer) -> Any:
    with emhub_server.admin() as client:
        yield client


def test_events_of_a_zero_interval_task_are_min_interval_apart(
        emhub_server: EMhubServer, admin: AdminClient, worker_env: dict[str, str],
        tmp_path: Path) -> None:
    worker = "spare-1.test"  # a registered name; this test looks only at its own task
    config = emhub_server.worker_config(tmp_path / "w.toml", worker,
                                        worker_settings={"min_interval": 1.5})
    with WorkerProcess(config, worker_env, tmp_path / "w.log").start() as w:
        task = admin.create_task(worker, "echo", {"message": "m", "repeat": 3, "interval": 0})
        wait_for(lambda: admin.task_status(worker, task) == "done", "echo done", log=w.log)
        events = admin.task_events(task)
    stamps = [int(stream_id.split("-")[0]) for stream_id, event in events
              if "message" in event]
    assert len(stamps) == 3, events
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert all(gap >= 1500 - 50 for gap in gaps), gaps
