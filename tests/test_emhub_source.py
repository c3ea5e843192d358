"""EMhubTaskSource's poll logic and retries, against a scripted fake client.

The same behaviour on the real server: test_emhub_worker_real.py.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

import pytest

from emhub_worker_core.contract.errors import AuthenticationError, EventRejected, TransportError
from emhub_worker_core.contract.task import Task
from emhub_worker_core.sources.emhub.client import PollTimeout, TokenRejected
from emhub_worker_core.sources.emhub.settings import EMhubSettings
from emhub_worker_core.sources.emhub.task_source import EMhubTaskSource
from emhub_worker_core.testing import FakeRunner

SETTINGS = EMhubSettings(url="http://emhub.test", user="u", password="p", pending_recheck=60,
                         retry_max_delay=1)

Step = Any  # a value to return, an exception to raise, or a callable


class FakeClient:
    """Scripted answers per method; records calls."""

    worker = "w1.test"

    def __init__(self, **script: list[Step]) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def _answer(self, method: str, *args: Any) -> Any:
        self.calls.append((method, args))
        queue = self.script.get(method, [None])
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(step, BaseException):
            raise step
        return step(*args) if callable(step) else step

    def __getattr__(self, method: str) -> Callable[..., Any]:
        return lambda *args: self._answer(method, *args)

    def called(self, method: str) -> int:
        return sum(1 for m, _ in self.calls if m == method)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_source(clock: Clock | None = None, **script: list[Step]
                ) -> tuple[EMhubTaskSource, FakeClient]:
    script.setdefault("get_pending_tasks", [[]])
    script.setdefault("get_new_tasks", [[]])
    client = FakeClient(**script)
    source = EMhubTaskSource(client, SETTINGS, runner=FakeRunner({}),  # type: ignore[arg-type]
                             clock=clock or Clock(), rand=lambda: 0.0)
    return source, client


def opened(clock: Clock | None = None, **script: list[Step]
           ) -> tuple[EMhubTaskSource, FakeClient]:
    source, client = make_source(clock, **script)
    source.open({"emworker": "0.1.0", "tasks": ["echo"]}, threading.Event())
    return source, client


def task(task_id: str, name: str = "echo", **args: Any) -> dict[str, Any]:
    return {"id": task_id, "name": name, "args": args}


def test_open_connects_with_host_and_machine_specs() -> None:
    _, client = opened()
    assert [m for m, _ in client.calls] == ["login", "connect_worker"]
    specs = client.calls[1][1][0]
    assert specs["emworker"] == "0.1.0" and specs["tasks"] == ["echo"]
    assert specs["CPUs"] >= 1 and specs["python"] and specs["host"]
    assert specs["GPUs"] == {}  # no nvidia-smi in the fake runner


def test_open_retries_until_emhub_answers() -> None:
    _, client = opened(login=[TransportError("refused"), TransportError("refused"), None])
    assert client.called("login") == 3 and client.called("connect_worker") == 1


@pytest.mark.parametrize("failing", ["login", "connect_worker"])
def test_authentication_failure_at_open_is_fatal_at_once(failing: str) -> None:
    source, client = make_source(**{failing: [AuthenticationError("refused")]})
    with pytest.raises(AuthenticationError):
        source.open({}, threading.Event())
    assert client.called(failing) == 1


def test_open_returns_quietly_when_stopped_while_waiting() -> None:
    stop = threading.Event()
    source, _ = make_source(login=[lambda: stop.set() or (_ for _ in ()).throw(
        TransportError("down"))])
    source.open({}, stop)  # no exception: the host sees the stop and exits


def test_start_up_resumes_pending_then_long_polls_and_rechecks() -> None:
    clock = Clock()
    source, client = opened(clock, get_pending_tasks=[[task("1-0")], [task("1-0"), task("3-0")]],
                            get_new_tasks=[[task("2-0")], []])
    stop = threading.Event()
    assert [t.id for t in source.poll(stop)] == ["1-0"]      # resumed at once
    assert [t.id for t in source.poll(stop)] == ["2-0"]      # then the long poll
    assert source.poll(stop) == []
    assert client.called("get_pending_tasks") == 1
    clock.now += 60                                          # pending_recheck
    assert [t.id for t in source.poll(stop)] == ["1-0", "3-0"]  # the host dedups 1-0
    assert client.called("get_pending_tasks") == 2


def test_a_finished_task_is_never_returned_again() -> None:
    clock = Clock()
    source, client = opened(clock, get_pending_tasks=[[task("1-0")]], update_task=[None])
    stop = threading.Event()
    [resumed] = source.poll(stop)
    source.send(resumed, {"done": 1})
    clock.now += 60
    assert source.poll(stop) == []  # a stale pending list still shows it


def test_malformed_tasks_get_an_error_and_done_when_they_have_an_id(
        caplog: pytest.LogCaptureFixture) -> None:
    source, client = opened(get_pending_tasks=[[
        {"id": "1-0", "name": "echo", "args": [1, 2]},
        {"name": "no id"}, task("2-0")]])
    assert [t.id for t in source.poll(threading.Event())] == ["2-0"]
    [(method, (task_id, event))] = [c for c in client.calls if c[0] == "update_task"]
    assert task_id == "1-0" and event["done"] == 1 and "malformed task" in event["error"]
    assert "has no valid 'id'" in caplog.text


def test_poll_failure_waits_and_returns_nothing() -> None:
    source, client = opened(get_new_tasks=[TransportError("refused"), [task("2-0")]])
    stop = threading.Event()
    assert source.poll(stop) == []  # no pending task, then the poll failed
    assert source.outage.down
    assert [t.id for t in source.poll(stop)] == ["2-0"]
    assert not source.outage.down


def test_a_poll_timeout_is_just_an_empty_poll(caplog: pytest.LogCaptureFixture) -> None:
    source, _ = opened(get_new_tasks=[PollTimeout("no answer within 90 s")])
    assert source.poll(threading.Event()) == []
    assert not source.outage.down


def test_a_rejected_token_makes_the_next_poll_connect_again() -> None:
    source, client = opened(get_new_tasks=[TokenRejected("Invalid token"), [task("2-0")]])
    stop = threading.Event()
    assert source.poll(stop) == []
    assert [t.id for t in source.poll(stop)] == ["2-0"]
    assert client.called("connect_worker") == 2 and client.called("login") == 2


def test_authentication_failure_while_polling_is_fatal() -> None:
    source, _ = opened(get_new_tasks=[AuthenticationError("Unregistered host w1.test")])
    with pytest.raises(AuthenticationError):
        source.poll(threading.Event())


def test_send_retries_transient_failures(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="emworker.emhub")
    source, client = opened(update_task=[TransportError("refused"), TransportError("refused"),
                                         None])
    source.send(Task("1-0", "echo"), {"msg": "x"})
    assert client.called("update_task") == 3
    assert "EMhub call failed" in caplog.text and "EMhub answers again" in caplog.text


def test_send_does_not_retry_a_refused_event() -> None:
    source, client = opened(update_task=[EventRejected("Invalid input of type: 'dict'")])
    with pytest.raises(EventRejected):
        source.send(Task("1-0", "echo"), {"msg": "x"})
    assert client.called("update_task") == 1


def test_send_gives_up_after_its_window() -> None:
    clock = Clock()
    source, client = opened(clock, update_task=[TransportError("refused")])

    def failing(*args: Any) -> None:
        clock.now += 50  # each attempt "takes" 50 s: the 120 s window ends after 3
        raise TransportError("refused")
    client.script["update_task"] = [failing]
    with pytest.raises(TransportError):
        source.send(Task("1-0", "echo"), {"msg": "x"})
    assert client.called("update_task") == 3


def test_services_call_emhub_with_retries() -> None:
    source, client = opened(get_config=[TransportError("down"), {"raw": {"root": "/r"}}],
                            get_session=[{"id": 301, "extra": {}}])
    assert source.services.request_config("sessions") == {"raw": {"root": "/r"}}
    assert source.services.get_session(301)["id"] == 301
    assert client.called("get_config") == 2


def test_pending_rechecks_run_on_time_while_the_long_poll_is_held() -> None:
    """Issue 21: EMhub holds get_new_tasks 60 s, and a task that an earlier process's
    abandoned poll took sits pending meanwhile: the re-check must not wait for our poll."""
    from emhub_worker_core.sources.emhub.task_source import CATCH_UP_EVERY, CATCH_UP_WINDOW

    held = threading.Event()
    clock = Clock()
    settings = EMhubSettings(url="http://emhub.test", user="u", password="p",
                             pending_recheck=2)
    client = FakeClient(get_pending_tasks=[[], [task("7-0")], []],
                        get_new_tasks=[lambda: held.wait(30) and []])
    source = EMhubTaskSource(client, settings, runner=FakeRunner({}),  # type: ignore[arg-type]
                             clock=clock, rand=lambda: 0.0)
    source.open({"tasks": ["echo"]}, threading.Event())
    stop = threading.Event()
    rounds: list[list[str]] = []

    def poll_round() -> None:
        thread = threading.Thread(target=lambda: rounds.append(
            [t.id for t in source.poll(stop)]))
        thread.start()
        thread.join(10)
        assert not thread.is_alive(), "poll() waited for the long poll"

    try:
        poll_round()  # start-up check: nothing; the long poll is sent and held
        assert rounds == [[]] and client.called("get_new_tasks") == 1
        clock.now += CATCH_UP_EVERY  # within the catch-up window: re-checked every 1.5 s
        poll_round()
        assert rounds[-1] == ["7-0"] and client.called("get_new_tasks") == 1
        clock.now += CATCH_UP_WINDOW  # after it: every pending_recheck seconds, as set
        poll_round()
        assert source._next_pending_check == clock.now + 2
        assert client.called("get_pending_tasks") == 3 and client.called("get_new_tasks") == 1
    finally:
        held.set()
