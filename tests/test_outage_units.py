"""Outages, stop, start-up visibility, snapshots and idle cost, in memory (issue 10).

The same behaviour on the real server: test_outages_real.py.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Mapping

import pytest

from emhub_worker_core import TaskHandler
from emhub_worker_core.contract.errors import AuthenticationError, TransportError
from emhub_worker_core.contract.events import EncodedEvent
from emhub_worker_core.contract.handler import TaskContext
from emhub_worker_core.contract.task import Task
from emhub_worker_core.host.main_loop import Host
from emhub_worker_core.host.service_monitor import ServiceMonitor
from emhub_worker_core.host.task_loop import send_failure
from emhub_worker_core.ops.state_file import read_state, state_dir_for
from emhub_worker_core.sources.emhub.backoff import OutageLog
from emhub_worker_core.sources.emhub.client import TokenRejected
from emhub_worker_core.sources.emhub.retry import Retrier
from emhub_worker_core.sources.emhub.settings import EMhubSettings
from emhub_worker_core.sources.emhub.task_source import POLL_RETRY_CAP, EMhubTaskSource
from tests.test_host import MemorySource, router

# -- retries ------------------------------------------------------------------------------


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


# -- snapshot fields ------------------------------------------------------------------------


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


# -- fatal errors and start-up ----------------------------------------------------------------


class Recorder(TaskHandler):
    interval = 0.05
    torn_down: list[str] = []

    def process(self) -> None:
        self.update({"n": self.count})

    def teardown(self) -> None:
        Recorder.torn_down.append(self.task_id)


class RevokedSource(MemorySource):
    """Hands out tasks, then says the worker is no longer registered."""

    def poll(self, stop: threading.Event) -> list[Task]:
        if self.batches:
            return self.batches.pop(0)
        if len(self.events) >= 4:
            raise AuthenticationError("Unregistered host w1")
        stop.wait(0.02)
        return []


def test_a_fatal_error_mid_run_still_stops_every_task_and_runs_teardown() -> None:
    Recorder.torn_down = []
    source = RevokedSource([Task("1-0", "rec", {}), Task("1-1", "rec", {})], exhaust=False)
    with pytest.raises(AuthenticationError):
        Host(router(rec=Recorder), grace_period=5).run(source)
    assert sorted(Recorder.torn_down) == ["1-0", "1-1"]
    for task_id in ("1-0", "1-1"):
        assert source.of(task_id)[-1]["interrupted"] == 1


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


def test_status_says_connecting_while_emhub_is_down_since_start_up() -> None:
    import os

    from emhub_worker_core.cli.status_cmd import WARNING, judge

    state = {"pid": os.getpid(), "ready": None, "phase": "connecting",
             "connection": {"state": "failing", "since": time.time() - 30, "attempts": 5,
                            "last_error": "connect: connection refused"}}
    code, verdict = judge(state, stale_after=180)
    assert code == WARNING
    assert "connecting to EMhub for 30 s (5 failed call(s))" in verdict
    assert "connection refused" in verdict


def test_status_finds_the_state_file_of_its_own_worker_name(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from emhub_worker_core.ops.state_file import write_state

    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMHUB_", "EMWORKER_"))}
    env.update(XDG_STATE_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path))
    env.pop("STATE_DIRECTORY", None)
    for name in ("krios1.test", "krios2.test"):  # two workers, one machine, no state_dir
        (tmp_path / f"{name}.toml").write_text(f'[worker]\nname = "{name}"\n')
        write_state(state_dir_for(None, name, env),
                    {"pid": os.getpid(), "worker": name, "ready": time.time(),
                     "last_poll": time.time(), "tasks": []})
    for name in ("krios1.test", "krios2.test"):
        result = subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config",
                                 str(tmp_path / f"{name}.toml"), "status", "--json"],
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["state"]["worker"] == name


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
