"""The admin's floor on every handler's waits, and the progress rule (shared contract 2).

Waits are recorded, not timed: the stop event is replaced by one that notes each timeout
and returns at once. The subprocess test at the end checks real spacing of events, as a
lower bound only (a loaded machine can only make gaps longer).
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from emhub_worker_core.contract.errors import ConfigError, TransportError
from emhub_worker_core.contract.handler import DEFAULT_MIN_INTERVAL, TaskContext, TaskHandler
from emhub_worker_core.contract.task import Task
from emhub_worker_core.host.main_loop import Host
from emhub_worker_core.host.routing import Claim, Router
from emhub_worker_core.host.task_loop import run_task
from emhub_worker_core.ops import exit_codes
from emhub_worker_core.ops.config import load_config
from emhub_worker_core.testing import make_context, run_handler

from .test_host import MemorySource


class RecordingStop(threading.Event):
    """A stop event whose waits return at once and are written down."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(float("nan") if timeout is None else timeout)
        return self.is_set()


def context(min_interval: float, **task: Any) -> TaskContext:
    ctx = make_context({"name": "t", **task}, min_interval=min_interval)
    ctx.stop_event = RecordingStop()
    return ctx


def waits(ctx: TaskContext) -> list[float]:
    stop = ctx.stop_event
    assert isinstance(stop, RecordingStop)
    return stop.waits


class Hammer(TaskHandler):
    """Asks for no wait at all, like a task with ``period = 0``."""

    interval = 0.0

    def process(self) -> None:
        self.update({"step": self.count})


def test_the_loop_waits_at_least_min_interval_between_steps() -> None:
    ctx = context(5)
    run_task(Hammer(ctx), max_iterations=4)
    assert waits(ctx) == [5, 5, 5]


def test_a_longer_interval_is_kept() -> None:
    ctx = context(5)
    handler = Hammer(ctx)
    handler.interval = 30
    run_task(handler, max_iterations=2)
    assert waits(ctx) == [30]


class Backlog(TaskHandler):
    """Makes progress in its first two steps, then finds nothing to do."""

    interval = 0.0

    def process(self) -> None:
        if self.count <= 2:
            self.mark_progress()


def test_progress_lets_the_next_wait_be_shorter_for_that_step_only() -> None:
    ctx = context(5)
    run_task(Backlog(ctx), max_iterations=5)
    assert waits(ctx) == [0, 0, 5, 5]


class WaitsInside(TaskHandler):
    """Waits inside process(), before and after marking progress."""

    interval = 7.0

    def process(self) -> None:
        self.wait(0.1)
        self.mark_progress()
        self.wait(0.1)


def test_handler_wait_is_floored_unless_progress_was_marked() -> None:
    ctx = context(5)
    run_task(WaitsInside(ctx), max_iterations=2)
    assert waits(ctx) == [5, 0.1, 7, 5, 0.1]


class OwnWait(Hammer):
    def wait(self, seconds: float) -> bool:  # tries to dodge the floor
        return False


def test_overriding_wait_does_not_dodge_the_floor_between_steps() -> None:
    ctx = context(5)
    run_task(OwnWait(ctx), max_iterations=3)
    assert waits(ctx) == [5, 5]


@pytest.mark.parametrize("interval, expected", [
    (-3, 5), (float("nan"), 5), ("10", 5), (None, 5), (True, 5),
    (float("inf"), threading.TIMEOUT_MAX), (12.5, 12.5)])
def test_odd_intervals_never_go_below_the_floor(interval: Any, expected: float) -> None:
    ctx = context(5)
    handler = Hammer(ctx)
    handler.interval = interval
    run_task(handler, max_iterations=2)
    assert waits(ctx) == [expected]


def test_zero_switches_the_floor_off() -> None:
    ctx = context(0)
    run_task(Hammer(ctx), max_iterations=3)
    assert waits(ctx) == [0, 0]


class FlakySetup(Hammer):
    def setup(self) -> None:
        if not waits(self.context):
            raise TransportError("EMhub down")


def test_setup_retries_are_floored_too() -> None:
    ctx = context(5)
    run_task(FlakySetup(ctx), max_iterations=1)
    assert waits(ctx) == [5]


def test_the_test_kit_waits_like_the_host_when_asked() -> None:
    run = run_handler(Hammer, {"name": "t"}, iterations=1, min_interval=3)
    assert run.handler.context.min_interval == 3
    assert make_context({"name": "t"}).min_interval == 0


class SeesFloor(TaskHandler):
    seen: list[float] = []

    def process(self) -> None:
        SeesFloor.seen.append(self.context.min_interval)
        self.done()


def test_the_host_hands_its_floor_to_every_task() -> None:
    router = Router([Claim("t", None, SeesFloor, "test")])
    source = MemorySource([Task("1-0", "t", {}), Task("1-1", "t", {})])
    assert Host(router, min_interval=2.5).run(source) == exit_codes.OK
    assert SeesFloor.seen == [2.5, 2.5]
    assert Host(router).min_interval == DEFAULT_MIN_INTERVAL == 5


def test_configuration_default_file_and_environment(tmp_path: Path) -> None:
    assert load_config(None, env={}).get("worker", "min_interval") == 5
    path = tmp_path / "c.toml"
    path.write_text("[worker]\nmin_interval = 0.5\n")
    assert load_config(path, env={}).get("worker", "min_interval") == 0.5
    assert load_config(path, env={"EMWORKER_MIN_INTERVAL": "2"}).get(
        "worker", "min_interval") == 2


@pytest.mark.parametrize("text", ["-1", "nan", "inf", '"5"'])
def test_a_bad_floor_is_a_configuration_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[worker]\nmin_interval = {text}\n")
    with pytest.raises(ConfigError, match="min_interval"):
        load_config(path, env={})


def test_emworker_run_spaces_steps_by_min_interval(worker_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    """A task asking for no wait (interval 0) still gets min_interval between events."""
    tasks = tmp_path / "tasks.toml"
    tasks.write_text('[[tasks]]\nname = "echo"\nid = "t1"\n'
                     'args = { message = "hi", repeat = 3, interval = 0 }\n')
    config = tmp_path / "config.toml"
    config.write_text("[worker]\nmin_interval = 1.5\n")
    events = tmp_path / "events.jsonl"
    result = subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config",
                             str(config), "run", "--local", str(tasks), "--events",
                             str(events)], env=worker_env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    times = [datetime.datetime.fromisoformat(line["time"]).timestamp()
             for line in lines if "message" in line["event"]]
    assert len(times) == 3
    gaps = [b - a for a, b in zip(times, times[1:])]
    # lower bound only: the floor is a promise, and load can only make gaps longer
    assert all(gap >= 1.5 - 0.05 for gap in gaps), gaps


def test_the_floor_rule_is_written_once_and_only_the_handler_module_touches_the_mark() -> None:
    import ast

    from emhub_worker_core.contract.handler import begin_step, step_floor

    handler = TaskHandler(make_context({"name": "t"}, min_interval=7.0))
    assert step_floor(handler) == 7.0
    handler.mark_progress()
    assert step_floor(handler) == 0.0 and handler.progress_marked
    begin_step(handler)
    assert step_floor(handler) == 7.0 and not handler.progress_marked
    core = Path(__file__).resolve().parent.parent / "emhub_worker_core"
    touching = sorted(str(path.relative_to(core)) for path in core.rglob("*.py")
                      for node in ast.walk(ast.parse(path.read_text()))
                      if isinstance(node, ast.Attribute) and node.attr == "_made_progress")
    assert set(touching) == {"contract/handler.py"}, touching
