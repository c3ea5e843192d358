"""A fatal error mid-run (the worker no longer registered) still stops every task."""

from __future__ import annotations

import threading

import pytest

from emhub_worker_core import TaskHandler
from emhub_worker_core.contract.errors import AuthenticationError
from emhub_worker_core.contract.task import Task
from emhub_worker_core.host.main_loop import Host, TaskRules
from tests.test_host import MemorySource, router


class Recorder(TaskHandler):
    interval = 0.05
    torn_down: list[str] = []

    def process(self) -> None:
        self.update({"n": self.count})

    def teardown(self) -> None:
        Recorder.torn_down.append(self.task_id)


class RevokedSource(MemorySource):
    """Hands out tasks, then says the worker is no longer registered."""

    def poll(self, stop: threading.Event) -> list[Task]:
        if self.batches:
            return self.batches.pop(0)
        if len(self.events) >= 4:
            raise AuthenticationError("Unregistered host w1")
        stop.wait(0.02)
        return []


def test_a_fatal_error_mid_run_still_stops_every_task_and_runs_teardown() -> None:
    Recorder.torn_down = []
    source = RevokedSource([Task("1-0", "rec", {}), Task("1-1", "rec", {})], exhaust=False)
    with pytest.raises(AuthenticationError):
        # min_interval 0: the 5 s floor on steps (tested on its own) would only wait here
        Host(router(rec=Recorder), TaskRules(min_interval=0), grace_period=5).run(source)
    assert sorted(Recorder.torn_down) == ["1-0", "1-1"]
    for task_id in ("1-0", "1-1"):
        assert source.of(task_id)[-1]["interrupted"] == 1
