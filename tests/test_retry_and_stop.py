"""Retries of EMhub calls and how a stop cuts them short, in memory (issue 10).

The same behaviour on the real server: test_outages_real.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from emhub_worker_core.contract.errors import TransportError
from emhub_worker_core.sources.emhub.backoff import OutageLog
from emhub_worker_core.sources.emhub.client import TokenRejected
from emhub_worker_core.sources.emhub.retry import Retrier
from emhub_worker_core.sources.emhub.settings import EMhubSettings
from emhub_worker_core.sources.emhub.task_source import POLL_RETRY_CAP, EMhubTaskSource


def test_a_success_elsewhere_ends_a_waiting_retry_at_once() -> None:
    outage = OutageLog()
    retrier = Retrier(outage, max_delay=60, rand=lambda: 1.0)
    outage.failure("poll", TransportError("down"))
    woke: list[float] = []

    def wait() -> None:
        started = time.monotonic()
        retrier.wait(30)
        woke.append(time.monotonic() - started)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)
    outage.success()  # another thread's call got through
    waiter.join(10)
    assert woke and woke[0] < 10, "the wait ran its 30 s out"


@pytest.mark.parametrize("error", [TransportError("down"), TokenRejected("token")])
def test_a_stop_cuts_a_retry_short_and_always_gives_a_transport_error(
        error: Exception) -> None:
    retrier = Retrier(OutageLog(), max_delay=60, rand=lambda: 1.0)
    stop = threading.Event()
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        if len(calls) == 2:
            stop.set()  # SIGTERM arrives while the handler's call is being retried
        raise error

    started = time.monotonic()
    with pytest.raises(TransportError):  # never a failed task: the task loop retries
        retrier.call("update_task", failing, window=120, stop=stop)
    assert len(calls) == 2 and time.monotonic() - started < 10


def test_a_stop_already_set_allows_one_attempt_and_no_wait() -> None:
    retrier = Retrier(OutageLog(), max_delay=60, rand=lambda: 1.0)
    stop = threading.Event()
    stop.set()
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise TransportError("down")

    with pytest.raises(TransportError):
        retrier.call("update_task", failing, window=120, stop=stop)
    assert calls == [1]


def test_the_poll_loop_backoff_is_capped_low_and_floored_at_a_second() -> None:
    settings = EMhubSettings(url="http://emhub.test", user="u", password="p")  # 60 s max
    source = EMhubTaskSource(object(), settings, rand=lambda: 1.0)  # type: ignore[arg-type]
    delays = [source._poll_backoff.next_delay() for _ in range(10)]
    assert max(delays) == POLL_RETRY_CAP <= 5
    low = EMhubTaskSource(object(), settings, rand=lambda: 0.0)  # type: ignore[arg-type]
    assert min(low._poll_backoff.next_delay() for _ in range(10)) >= 1.0  # <= 1 request/s


def test_bounded_handler_calls_watch_the_source_stop_event() -> None:
    settings = EMhubSettings(url="http://emhub.test", user="u", password="p")
    source = EMhubTaskSource(object(), settings, rand=lambda: 1.0)  # type: ignore[arg-type]
    source._need_connect = False
    stop = threading.Event()
    source._stop = stop
    threading.Timer(0.3, stop.set).start()

    def down() -> None:
        raise TransportError("connection refused")

    started = time.monotonic()
    with pytest.raises(TransportError):
        source.bounded("update_task 1-0", down)
    assert time.monotonic() - started < 10  # not the 120 s window
