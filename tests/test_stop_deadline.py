"""Shutdown bounded when EMhub hangs (issue 21), in memory: calls made while stopping end
within the grace period, and an event still on its way then is named, not a forced stop.

The same on the real EMhub (a stopped process, and a listener that never answers):
test_restart_real.py."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from emhub_worker_core import TaskHandler
from emhub_worker_core.contract.events import EncodedEvent
from emhub_worker_core.contract.task import Task
from emhub_worker_core.host.main_loop import Host
from emhub_worker_core.ops import exit_codes
from emhub_worker_core.sources.emhub.client import LATE_CALL_TIMEOUT, EMhubClient
from emhub_worker_core.sources.emhub.settings import EMhubSettings
from tests.test_host import MemorySource, router


def test_once_stopping_no_call_lasts_past_the_deadline() -> None:
    settings = EMhubSettings(url="http://emhub.test", user="u", password="p", timeout=30,
                             poll_timeout=90)
    client = EMhubClient(settings, "w1.test")
    assert client._timeouts(None) == (30, 30) and client._timeouts(90) == (30, 90)
    client.deadline = time.monotonic() + 5
    connect, read = client._timeouts(90)
    assert 4 < connect <= 5 and 4 < read <= 5
    client.deadline = time.monotonic() - 1  # the grace period is over: one short try
    assert client._timeouts(90) == (LATE_CALL_TIMEOUT, LATE_CALL_TIMEOUT)


class Ticker(TaskHandler):
    interval = 0.01

    def process(self) -> None:
        self.update({"n": self.count})


class HangingSource(MemorySource):
    """Answers until ``hang`` is set; then every send hangs until ``release``."""

    def __init__(self) -> None:
        super().__init__([Task("1-0", "tick", {})], exhaust=False)
        self.hang = threading.Event()
        self.release = threading.Event()
        self.deadline: float | None = None

    def send(self, task: Task, event: EncodedEvent) -> None:
        if self.hang.is_set():
            self.release.wait(60)
        super().send(task, event)

    def stopping(self, deadline: float) -> None:
        self.deadline = deadline


def test_an_event_emhub_never_answers_ends_in_exit_0_within_the_grace_period(
        caplog: pytest.LogCaptureFixture) -> None:
    source = HangingSource()
    host = Host(router(tick=Ticker), grace_period=1.0)
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(host.run(source)))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not source.events and time.monotonic() < deadline:
            time.sleep(0.01)
        source.hang.set()  # EMhub accepts and never answers: the interrupted event hangs
        with caplog.at_level(logging.WARNING, logger="emworker.host"):
            stopped = time.monotonic()
            host.request_stop()
            thread.join(10)
            took = time.monotonic() - stopped
    finally:
        source.release.set()
    assert codes == [exit_codes.OK] and took < 3, (codes, took)
    assert source.deadline is not None  # the source was told when its calls must end
    assert "task 1-0 (tick): event not delivered (keys interrupted,msg)" in caplog.text
