"""The state file and systemd: written while EMhub is down, on change, per worker name."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Mapping

from emhub_worker_core.host.main_loop import Host
from emhub_worker_core.host.service_monitor import ServiceMonitor
from emhub_worker_core.ops.state_file import read_state, state_dir_for
from tests.test_fatal_errors import Recorder
from tests.test_host import MemorySource, router


class SlowOpen(MemorySource):
    """EMhub down at start-up: open() returns only once released."""

    def __init__(self) -> None:
        super().__init__(exhaust=False)
        self.release = threading.Event()

    def open(self, specs: Mapping[str, Any], stop: threading.Event) -> None:
        while not (self.release.is_set() or stop.is_set()):
            stop.wait(0.01)

    def connection(self) -> dict[str, Any]:
        return {"state": "failing", "since": 1.0, "attempts": 7, "last_error": "refused"}


class FakeNotifier:
    def __init__(self, watchdog_interval: float | None = None) -> None:
        self.watchdog_interval = watchdog_interval
        self.sent: list[str] = []

    def ready(self, status: str) -> bool:
        self.sent.append(f"READY STATUS={status}")
        return True

    def status(self, status: str) -> bool:
        self.sent.append(f"STATUS={status}")
        return True

    def watchdog(self) -> bool:
        self.sent.append("WATCHDOG")
        return True

    def stopping(self) -> bool:
        self.sent.append("STOPPING")
        return True


def test_state_file_and_systemd_hear_of_the_worker_while_emhub_is_down(tmp_path: Path) -> None:
    source = SlowOpen()
    host = Host(router(rec=Recorder))
    notifier = FakeNotifier(watchdog_interval=0.05)
    host.tickers.append(ServiceMonitor(tmp_path, "w1", notifier))  # type: ignore[arg-type]
    thread = threading.Thread(target=host.run, args=(source,))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while read_state(tmp_path) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        state = read_state(tmp_path)
        assert state is not None and state["phase"] == "connecting"
        assert state["connection"]["attempts"] == 7
        assert state["connection"]["last_error"] == "refused"
        assert notifier.sent[0].startswith("READY STATUS=connecting to the task source")
        assert "7 failed call(s)" in notifier.sent[0]
        while notifier.sent.count("WATCHDOG") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert notifier.sent.count("WATCHDOG") >= 2  # pinged while connecting
    finally:
        host.request_stop()
        thread.join(10)
    assert not thread.is_alive() and "STOPPING" in notifier.sent


def test_tickers_run_outside_the_host_lock() -> None:
    held: list[bool] = []

    def ticker(host: Host) -> None:
        result: list[bool] = []
        probe = threading.Thread(target=lambda: result.append(
            host.supervisor.lock.acquire(timeout=1) and not host.supervisor.lock.release()))
        probe.start()
        probe.join(5)
        held.append(not result or not result[0])

    host = Host(router(rec=Recorder))
    host.tickers.append(ticker)
    host.run(MemorySource())
    assert held and not any(held)


# -- state written on change ------------------------------------------------------------------


def test_state_is_written_on_change_and_as_a_heartbeat_not_on_a_clock(tmp_path: Path) -> None:
    host = Host(router(rec=Recorder))
    monitor = ServiceMonitor(tmp_path, "w1", FakeNotifier(), heartbeat=3600)  # type: ignore[arg-type]
    for _ in range(50):
        monitor(host)
    assert monitor.writes == 1  # nothing changed: one write, not fifty
    host.request_stop()
    monitor(host)
    assert monitor.writes == 2 and read_state(tmp_path)["phase"] == "stopping"  # type: ignore[index]
    beating = ServiceMonitor(tmp_path, "w1", FakeNotifier(), heartbeat=0)  # type: ignore[arg-type]
    beating(host)
    beating(host)
    assert beating.writes == 2


def test_each_worker_name_gets_its_own_state_folder(tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path)}
    one, two = state_dir_for(None, "krios1.example", env), state_dir_for(None, "krios2", env)
    assert one != two and one.parent == two.parent == tmp_path / "emworker"
    assert state_dir_for(None, "../../etc", env).parent == tmp_path / "emworker"
    assert state_dir_for(str(tmp_path / "x"), "krios1", env) == tmp_path / "x"  # as configured


def test_changes_close_together_are_written_together(tmp_path: Path) -> None:
    host = Host(router(rec=Recorder))
    monitor = ServiceMonitor(tmp_path, "w1", FakeNotifier(), heartbeat=3600)  # type: ignore[arg-type]
    monitor(host)
    assert monitor.writes == 1 and monitor.tick_every == 3600
    host.supervisor.failed_tasks += 1  # a change right after the last write
    monitor(host)
    assert monitor.writes == 1 and monitor.tick_every <= 1.0  # written within a second
    monitor._last_write -= 1.0  # ...which has now passed
    monitor(host)
    assert monitor.writes == 2 and read_state(tmp_path)["failed_tasks"] == 1  # type: ignore[index]
