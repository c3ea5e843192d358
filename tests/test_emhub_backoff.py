"""Backoff (capped exponential, full jitter) and the outage log (first failure, summaries)."""

from __future__ import annotations

import logging

import pytest

from emhub_worker_core.contract.errors import TransportError
from emhub_worker_core.sources.emhub.backoff import Backoff, OutageLog


def test_ceilings_double_up_to_the_cap() -> None:
    backoff = Backoff(base=1, cap=60, rand=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_full_jitter_draws_between_floor_and_ceiling() -> None:
    draws = iter([0.0, 0.5, 0.25])
    backoff = Backoff(base=2, cap=60, floor=0.1, rand=lambda: next(draws))
    assert backoff.next_delay() == 0.1          # never 0: we do not spin
    assert backoff.next_delay() == 0.5 * 4
    assert backoff.next_delay() == 0.25 * 8


def test_reset_starts_small_again() -> None:
    backoff = Backoff(base=1, cap=60, rand=lambda: 1.0)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_outage_logs_first_failure_then_summaries_then_recovery(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="emworker.emhub")
    clock = Clock()
    outage = OutageLog(summary_every=60, clock=clock)
    for _ in range(30):                  # 30 failures, 5 s apart: 150 s of outage
        outage.failure("poll", TransportError("connection refused"))
        clock.now += 5
    outage.success()
    outage.success()                     # no outage any more: silent
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4, messages
    assert messages[0].startswith("EMhub call failed (poll: connection refused)")
    assert messages[1].startswith("EMhub still failing after 60 s and 13 failed call(s)")
    assert messages[2].startswith("EMhub still failing after 120 s and 25 failed call(s)")
    assert messages[3] == "EMhub answers again after 150.0 s and 30 failed call(s)"
    assert not outage.down
