"""TaskContext.clock stays wall time; TaskContext.monotonic times durations (issue 21)."""

from __future__ import annotations

import time

from emhub_worker_core import TaskContext
from emhub_worker_core.contract.task import Task
from emhub_worker_core.testing import FakeClock, make_context


def test_the_host_gives_wall_time_and_a_monotonic_clock() -> None:
    context = TaskContext(task=Task("1-0", "x", {}), send=lambda event: None)
    assert context.clock is time.time and context.monotonic is time.monotonic


def test_the_fake_clock_drives_both_and_steps_the_wall_clock_alone() -> None:
    clock = FakeClock()
    context = make_context({"name": "x"}, clock=clock)
    wall, mono = context.clock(), context.monotonic()
    clock.advance(10)
    assert (context.clock() - wall, context.monotonic() - mono) == (10, 10)
    clock.step(-3600)  # NTP sets the wall clock back an hour
    assert context.clock() == wall + 10 - 3600 and context.monotonic() == mono + 10


def test_a_plain_callable_drives_both() -> None:
    context = make_context({"name": "x"}, clock=lambda: 42.0)
    assert context.clock() == context.monotonic() == 42.0
