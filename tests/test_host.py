"""The host with an in-memory source: routing, never twice, limits, shutdown."""

from __future__ import annotations

import threading
import time
from typing import Any, Mapping

from emhub_worker_core import TaskHandler
from emhub_worker_core.contract.emhub_services import NoServices
from emhub_worker_core.contract.events import EncodedEvent
from emhub_worker_core.contract.task import Task
from emhub_worker_core.host.main_loop import Host, TaskRules
from emhub_worker_core.host.routing import Claim, Router
from emhub_worker_core.ops import exit_codes
from emhub_worker_core.sources.base import TaskSource


class MemorySource(TaskSource):
    """A task source for tests: hands out batches, records events."""

    name = "memory"

    def __init__(self, *batches: list[Task], exhaust: bool = True) -> None:
        self.batches = list(batches)
        self.exhaust = exhaust
        self.events: list[tuple[str, EncodedEvent]] = []
        self.services = NoServices()
        self.lock = threading.Lock()

    def open(self, specs: Mapping[str, Any], stop: threading.Event) -> None:
        self.specs = specs

    def poll(self, stop: threading.Event) -> list[Task]:
        if self.batches:
            return self.batches.pop(0)
        stop.wait(0.05)
        return []

    def send(self, task: Task, event: EncodedEvent) -> None:
        with self.lock:
            self.events.append((task.id, event))

    @property
    def exhausted(self) -> bool:
        return self.exhaust and not self.batches

    def close(self) -> None:
        pass

    def of(self, task_id: str) -> list[EncodedEvent]:
        return [e for t, e in self.events if t == task_id]


class Gate(TaskHandler):
    """Runs until its gate opens; counts how many run at once."""

    interval = 0.01
    gate = threading.Event()
    lock = threading.Lock()
    now = 0
    peak = 0

    def setup(self) -> None:
        with Gate.lock:
            Gate.now += 1
            Gate.peak = max(Gate.peak, Gate.now)

    def process(self) -> None:
        if Gate.gate.is_set():
            self.done()

    def teardown(self) -> None:
        with Gate.lock:
            Gate.now -= 1


class Sleeper(TaskHandler):
    interval = 60.0

    def process(self) -> None:
        self.update({"working": self.count})


def router(**names: type) -> Router:
    return Router([Claim(name, None, factory, "test") for name, factory in names.items()])


def test_unknown_task_gets_error_and_done_and_host_stays_up() -> None:
    source = MemorySource([Task("1-0", "bogus", {}), Task("1-1", "gate", {})])
    Gate.gate.set()
    code = Host(router(gate=Gate)).run(source)
    assert source.of("1-0") == [{"error": "There is no handler for task bogus", "done": 1}]
    assert source.of("1-1") == [{"done": 1}]
    assert code == exit_codes.TASKS_FAILED


def test_a_task_id_is_never_started_twice() -> None:
    Gate.gate.clear()
    task = Task("1-0", "gate", {})
    source = MemorySource([task], [task], [task])
    host = Host(router(gate=Gate), TaskRules(min_interval=0))  # the floor has tests of its own
    thread = threading.Thread(target=host.run, args=(source,))
    thread.start()
    while source.batches:
        time.sleep(0.01)
    Gate.gate.set()
    thread.join(10)
    assert source.of("1-0") == [{"done": 1}]


def test_concurrency_limit_per_host_and_per_name() -> None:
    Gate.gate.clear()
    Gate.peak = 0
    tasks = [Task(f"1-{i}", "gate", {}) for i in range(6)]
    host = Host(router(gate=Gate), TaskRules(max_tasks=3, max_tasks_per_name={"gate": 2},
                                                min_interval=0))  # the floor: own tests
    thread = threading.Thread(target=host.run, args=(MemorySource(tasks),))
    thread.start()
    time.sleep(0.3)
    assert len(host.supervisor.running) == 2 and len(host.supervisor.waiting) == 4
    Gate.gate.set()
    thread.join(10)
    assert not thread.is_alive() and Gate.peak == 2


def test_warm_stop_interrupts_running_tasks_without_done() -> None:
    source = MemorySource([Task("1-0", "sleeper", {}), Task("1-1", "sleeper", {})],
                          exhaust=False)
    host = Host(router(sleeper=Sleeper), grace_period=5)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(host.run(source)))
    thread.start()
    while len(source.events) < 2:
        time.sleep(0.01)
    host.request_stop()
    thread.join(5)
    assert result == [exit_codes.OK]
    for task_id in ("1-0", "1-1"):
        events = source.of(task_id)
        assert events[-1]["interrupted"] == 1
        assert not any("done" in e for e in events)  # EMhub keeps it pending: resumed later


def test_handler_stuck_past_grace_period_gives_forced_exit() -> None:
    class Stuck(TaskHandler):
        def process(self) -> None:
            threading.Event().wait(30)  # ignores stop requests

    source = MemorySource([Task("1-0", "stuck", {})], exhaust=False)
    host = Host(router(stuck=Stuck), grace_period=0.2)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(host.run(source)))
    thread.start()
    while not host.supervisor.running:
        time.sleep(0.01)
    host.request_stop()
    thread.join(5)
    assert result == [exit_codes.FORCED]
    assert source.of("1-0")[-1]["interrupted"] == 1


def test_a_constructor_failure_ends_only_that_task() -> None:
    def factory(context: Any) -> TaskHandler:
        raise RuntimeError("cannot build")

    Gate.gate.set()
    source = MemorySource([Task("1-0", "bad", {}), Task("1-1", "gate", {})])
    Host(Router([Claim("bad", None, factory, "t"), Claim("gate", None, Gate, "t")])).run(source)
    assert source.of("1-0")[0]["error"] == "RuntimeError: cannot build"
    assert source.of("1-0")[0]["done"] == 1
    assert source.of("1-1") == [{"done": 1}]


def test_a_failing_source_send_does_not_stop_intake() -> None:
    class FlakySend(MemorySource):
        def send(self, task: Task, event: EncodedEvent) -> None:
            if task.name == "bogus":
                raise ConnectionError("EMhub down")
            super().send(task, event)

    Gate.gate.set()
    source = FlakySend([Task("1-0", "bogus", {})], [Task("1-1", "gate", {})])
    thread = threading.Thread(target=Host(router(gate=Gate)).run, args=(source,), daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "intake died with the failed report"
    assert source.of("1-1") == [{"done": 1}]  # the poller survived the failed report


def test_each_plugin_gets_its_own_state_folder_below_the_workers(tmp_path: Any) -> None:
    seen: dict[str, Any] = {}

    class Remember(TaskHandler):
        def process(self) -> None:
            seen[self.context.plugin] = self.context.state_dir
            self.done()

    tasks = [Task("1", "a", {}), Task("2", "b", {})]
    claims = [Claim("a", None, Remember, "plug-a"), Claim("b", None, Remember, "plug-b")]
    Host(Router(claims), TaskRules(state_dir=tmp_path, min_interval=0)).run(MemorySource(tasks))
    assert seen == {"plug-a": tmp_path / "plugins" / "plug-a",
                    "plug-b": tmp_path / "plugins" / "plug-b"}
    Host(Router(claims[:1]), TaskRules(min_interval=0)).run(MemorySource([Task("3", "a", {})]))
    assert seen["plug-a"] is None  # no worker state folder: none for the plugin either


def test_a_source_without_a_link_has_the_protocols_defaults() -> None:
    """The host calls ``connection()``, ``stopping()`` and ``rejected`` on every source:
    the protocol gives the ones a source does not need (no getattr in the host)."""
    source = MemorySource([])
    assert source.connection() == {} and source.rejected == 0
    assert source.stopping(time.monotonic()) is None
    host = Host(Router([]))
    assert host.run(source) == exit_codes.OK
    assert "connection" not in host.snapshot()


def test_the_host_hands_the_supervisor_one_object_and_does_not_mirror_it() -> None:
    import inspect

    from emhub_worker_core.host.supervisor import Supervisor

    rules = TaskRules(max_tasks=0, min_interval=-1, max_tasks_per_name={"a": 1})
    host = Host(Router([]), rules)
    assert host.supervisor.rules is rules
    assert (rules.max_tasks, rules.min_interval) == (1, 0.0)  # normalised once
    assert list(inspect.signature(Supervisor).parameters) == [
        "deliver", "rules", "observers", "changed"]
    mirrored = [name for name in ("running", "waiting", "failed_tasks", "min_interval",
                                  "max_tasks", "runner", "state_dir", "plugin_config")
                if hasattr(Host, name) or name in vars(host)]
    assert not mirrored
