"""The run loop every task goes through, and the host around it."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from emhub_worker_core import Outcome, TaskHandler
from emhub_worker_core.contract.errors import TransportError
from emhub_worker_core.host.task_loop import run_task
from emhub_worker_core.testing import make_context, run_handler


class Failing(TaskHandler):
    def process(self) -> None:
        raise KeyError("cmd")


class FlakyTransport(TaskHandler):
    def process(self) -> None:
        if self.count < 3:
            raise TransportError("EMhub down")
        self.done(steps=self.count)


class Forever(TaskHandler):
    interval = 30.0

    def process(self) -> None:
        self.update({"tick": self.count})


def test_exception_becomes_one_error_event_with_stack_and_done() -> None:
    run = run_handler(Failing, {"name": "x"}, iterations=5)
    assert run.outcome is Outcome.FAILED
    assert len(run.events) == 1  # never resent in a loop
    event = run.events[0]
    assert event["error"] == "KeyError: 'cmd'" and event["done"] == 1
    assert "Traceback" in str(event["stack"]) and "process" in str(event["stack"])


def test_setup_failure_is_reported_too() -> None:
    class BadSetup(Forever):
        def setup(self) -> None:
            raise ValueError("no root")

    run = run_handler(BadSetup, {"name": "x"})
    assert run.outcome is Outcome.FAILED and run.last["error"] == "ValueError: no root"


def test_transport_errors_do_not_end_the_task() -> None:
    run = run_handler(FlakyTransport, {"name": "x"}, iterations=None)
    assert run.outcome is Outcome.DONE and run.last == {"steps": 3, "done": 1}


def test_iterations_cap_ends_a_local_run() -> None:
    run = run_handler(Forever, {"name": "x"}, iterations=3)
    assert run.outcome is Outcome.EXHAUSTED
    assert [e["tick"] for e in run.events] == [1, 2, 3]


def test_stop_interrupts_the_wait_at_once() -> None:
    events: list[Any] = []
    handler = Forever(make_context({"name": "x"}, events=events))
    result: list[Outcome] = []
    thread = threading.Thread(target=lambda: result.append(run_task(handler)))
    thread.start()
    while not events:
        time.sleep(0.01)
    started = time.monotonic()
    handler.stop()
    thread.join(5)
    assert not thread.is_alive(), "a 30 s interval must not delay the stop"
    assert result == [Outcome.STOPPED]
    assert time.monotonic() - started < 5


def test_teardown_always_runs() -> None:
    calls: list[str] = []

    class Tidy(Failing):
        def teardown(self) -> None:
            calls.append("teardown")

    run_handler(Tidy, {"name": "x"})
    assert calls == ["teardown"]


def test_a_refusal_is_one_line_in_words_and_a_bug_keeps_its_stack(
        caplog: pytest.LogCaptureFixture) -> None:
    """A task refused on purpose (bad args, a configuration mistake, a path outside the
    roots) shows EMhub's Task History one line, not a Python stack; a bug keeps its stack,
    in the event and in the log."""
    from emhub_worker_core import ConfigError, TaskError

    class Refuses(Forever):
        def setup(self) -> None:
            raise TaskError(f"root {self.args['root']} is outside the configured roots")

    class Misconfigured(Forever):
        def setup(self) -> None:
            raise ConfigError("[plugins.x] period: bad value 'soon'")

    run = run_handler(Refuses, {"name": "x", "args": {"root": "/etc"}})
    assert run.outcome is Outcome.FAILED
    assert run.events == [{"error": "root /etc is outside the configured roots", "done": 1}]
    run = run_handler(Misconfigured, {"name": "x"})
    assert run.events == [{"error": "[plugins.x] period: bad value 'soon'", "done": 1}]
    assert "Traceback" not in caplog.text
    run = run_handler(Failing, {"name": "x"}, iterations=5)
    assert "Traceback" in str(run.last["stack"])
    assert "task failed: KeyError: 'cmd'\nTraceback" in caplog.text


def test_report_error_of_a_refusal_sends_no_stack() -> None:
    from emhub_worker_core import TaskError

    class Complains(Forever):
        def process(self) -> None:
            self.report_error(TaskError("root swapped for a link; not scanned"), root="/d")
            self.report_error(RuntimeError("bug"))
            self.done()

    run = run_handler(Complains, {"name": "x"}, iterations=1)
    assert run.events[0] == {"root": "/d", "error": "root swapped for a link; not scanned"}
    assert run.events[1]["stack"] == "RuntimeError: bug\n"  # a bug keeps its stack
