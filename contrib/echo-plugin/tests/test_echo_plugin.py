from emworker_echo.handler import EchoHandler

from emhub_worker_core import Outcome
from emhub_worker_core.testing import run_handler


def test_echo_sends_repeat_messages_then_done() -> None:
    run = run_handler(EchoHandler, {"name": "echo", "args": {"message": "hi", "repeat": 2}},
                      iterations=None, config={"prefix": "> "})
    assert run.outcome is Outcome.DONE
    assert [e.get("message") for e in run.events] == ["> hi", "> hi", None]
    assert run.events[-1] == {"count": 2, "done": 1}


def test_echo_bad_repeat_is_an_error_event_with_done() -> None:
    run = run_handler(EchoHandler, {"name": "echo", "args": {"repeat": "many"}}, iterations=None)
    assert run.outcome is Outcome.FAILED
    assert "repeat" in run.last["error"] and run.last["done"] == 1


def test_echo_settings_come_from_the_table_unless_a_task_arg_overrides() -> None:
    run = run_handler(EchoHandler, {"name": "echo", "args": {"repeat": 1}}, iterations=None,
                      config={"message": "from the admin", "repeat": 5})
    assert [e.get("message") for e in run.events] == ["from the admin", None]
