"""While EMhub is down, one call probes and the others wait (issue 21), in memory.

The same on the real EMhub, counted at its port: test_restart_real.py."""

from __future__ import annotations

import threading
import time

from emhub_worker_core.contract.errors import TransportError
from emhub_worker_core.sources.emhub.backoff import OutageLog
from emhub_worker_core.sources.emhub.retry import Retrier


def test_sixteen_callers_send_one_request_at_a_time_and_all_go_out_in_order() -> None:
    retrier = Retrier(OutageLog(), max_delay=60, rand=lambda: 0.0)  # delays at the floor
    up = threading.Event()
    sent: list[float] = []
    delivered: dict[int, list[int]] = {n: [] for n in range(16)}
    lock = threading.Lock()

    def call(task: int, event: int) -> None:
        with lock:
            sent.append(time.monotonic())
        if not up.is_set():
            raise TransportError("connection refused")
        delivered[task].append(event)

    def task_thread(task: int) -> None:
        for event in range(3):  # each task's events, one after the other
            retrier.call(f"update_task {task}", lambda: call(task, event),  # noqa: B023
                         window=120)

    threads = [threading.Thread(target=task_thread, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(4.0)  # EMhub down for 4 s
    down = len(sent)
    after_first_second = len([t for t in sent if t > sent[0] + 1.0])
    up.set()
    for thread in threads:
        thread.join(30)
    # at most one call per thread that was already on its way, then one probe per 1.2 s
    assert down <= 16 + 4, f"{down} requests in 4 s while down"
    assert after_first_second <= 3, f"{after_first_second} requests after the first second"
    assert all(events == [0, 1, 2] for events in delivered.values()), delivered
