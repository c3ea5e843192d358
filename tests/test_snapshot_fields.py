"""Snapshot fields: what an interrupted task repeats, kept only once EMhub took it."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Mapping

import pytest

from emhub_worker_core import TaskHandler
from emhub_worker_core.contract.errors import TransportError
from emhub_worker_core.contract.events import EncodedEvent
from emhub_worker_core.contract.handler import TaskContext
from emhub_worker_core.contract.task import Task
from emhub_worker_core.host.main_loop import Host
from emhub_worker_core.host.task_loop import send_failure
from tests.test_host import MemorySource, router


class Lister(TaskHandler):
    interval = 60.0
    snapshot_fields = ("entries", "usage")

    def process(self) -> None:
        self.update({"maxlen": 2, "entries": [{"name": "S1"}], "usage": {"total": 9},
                     "elapsed": 0.1})


def stop_after_first_event(host: Host, source: MemorySource) -> None:
    """Run ``host`` in a thread and ask it to stop once ``source`` got an event (≤ 10 s)."""
    thread = threading.Thread(target=host.run, args=(source,))
    thread.start()
    deadline = time.monotonic() + 10
    while not source.events and time.monotonic() < deadline:
        time.sleep(0.01)
    host.request_stop()
    thread.join(10)
    assert not thread.is_alive(), "the host did not stop"


def test_an_interrupted_snapshot_task_repeats_its_snapshot_fields() -> None:
    source = MemorySource([Task("1-0", "lister", {})], exhaust=False)
    stop_after_first_event(Host(router(lister=Lister), grace_period=5), source)
    last = source.of("1-0")[-1]
    assert last["interrupted"] == 1 and last["maxlen"] == 2 and "elapsed" not in last
    assert json.loads(str(last["entries"])) == [{"name": "S1"}]
    assert json.loads(str(last["usage"])) == {"total": 9}


def test_snapshot_values_are_kept_only_once_the_send_succeeded() -> None:
    sent: list[EncodedEvent] = []
    fail = [False]

    def send(event: EncodedEvent) -> None:
        if fail[0]:
            raise TransportError("down")
        sent.append(event)

    handler = Lister(TaskContext(task=Task("1-0", "lister", {}), send=send))
    handler.update({"entries": "[1]"})
    fail[0] = True
    with pytest.raises(TransportError):
        handler.update({"entries": "[2]"})
    assert handler.snapshot() == {"entries": "[1]"}
    fail[0] = False
    send_failure(handler, RuntimeError("boom"))  # a fatal error's last event keeps them
    assert sent[-1]["entries"] == "[1]" and sent[-1]["done"] == 1


def test_handlers_without_snapshot_fields_add_nothing() -> None:
    handler = TaskHandler(TaskContext(task=Task("1-0", "x", {}), send=lambda e: None))
    handler.update({"maxlen": 2, "entries": "[]"})
    assert handler.snapshot() == {}


def test_a_handler_event_is_encoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import emhub_worker_core.host.supervisor as supervisor

    def again(event: Mapping[str, Any]) -> EncodedEvent:
        raise AssertionError("a handler's event was encoded a second time")

    monkeypatch.setattr(supervisor, "encode_event", again)
    source = MemorySource([Task("1-0", "lister", {})], exhaust=False)
    stop_after_first_event(Host(router(lister=Lister), grace_period=5), source)
    assert "entries" in source.of("1-0")[0]
