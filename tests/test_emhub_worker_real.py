"""`emworker run` against a real EMhub 1.0.2 + Redis: delivery, resume, outages, shutdown.

Every test runs the worker as a subprocess (its own worker name, so tests never see each
other's tasks) with the example ``echo`` plugin (args message, repeat, interval).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from emworker_testkit.emhub_admin import AdminClient
from emworker_testkit.emhub_server import EMhubServer
from emworker_testkit.emhub_worker import WorkerProcess, wait_for

# Stops and starts only this worker's own EMhub, with echo tasks: under xdist it may run
# beside the kit's real-servers group (emworker_testkit.plugin).
pytestmark = [pytest.mark.emhub, pytest.mark.server_group("emhub-outages")]


@pytest.fixture
def admin(emhub_server: EMhubServer) -> Any:
    with emhub_server.admin() as client:
        yield client


def start_worker(server: EMhubServer, env: dict[str, str], tmp_path: Path, name: str,
                 **settings: Any) -> WorkerProcess:
    config = server.worker_config(tmp_path / f"{name}.toml", name, **settings)
    return WorkerProcess(config, env, tmp_path / f"{name}.log").start()


def done(admin: AdminClient, worker: str, *task_ids: str) -> bool:
    return all(admin.task_status(worker, t) == "done" for t in task_ids)


def counts(history: list[dict[str, str]]) -> list[int]:
    return [int(e["count"]) for e in history if "message" in e]


def test_task_reaches_worker_and_events_land_in_history(
        emhub_server: EMhubServer, admin: AdminClient, worker_env: dict[str, str],
        tmp_path: Path) -> None:
    worker = "core-1.test"
    with start_worker(emhub_server, worker_env, tmp_path, worker, password_file=True) as w:
        task = admin.create_task(worker, "echo", {"message": "hi", "repeat": 3,
                                                  "interval": 0.1})
        wait_for(lambda: done(admin, worker, task), "echo task done", log=w.log)
        assert admin.task_history(task) == [
            {"message": "hi", "count": "1"}, {"message": "hi", "count": "2"},
            {"message": "hi", "count": "3"}, {"count": "3", "done": "1"}]
        specs = admin.get_config("hosts")[worker]["specs"]
        assert "echo" in specs["tasks"] and specs["emworker"] and specs["CPUs"] >= 1
        assert specs["plugins"]["echo"] == "0.1.0" and specs["python"]
    assert w.proc is not None and w.proc.returncode == 0


def test_unknown_and_malformed_tasks_get_an_error_and_done(
        emhub_server: EMhubServer, admin: AdminClient, worker_env: dict[str, str],
        tmp_path: Path) -> None:
    worker = "spare-1.test"
    with start_worker(emhub_server, worker_env, tmp_path, worker) as w:
        unknown = admin.create_task(worker, "no-such-task", {"x": 1})
        malformed = admin.create_task(worker, "echo", ["args", "must", "be", "an object"])
        after = admin.create_task(worker, "echo", {"repeat": 1})
        wait_for(lambda: done(admin, worker, unknown, malformed, after), "all done",
                 log=w.log)
        [event] = admin.task_history(unknown)
        assert event["done"] == "1" and "no-such-task" in event["error"]
        [event] = admin.task_history(malformed)
        assert event["done"] == "1" and "malformed task" in event["error"]
        assert admin.task_history(after)[-1]["done"] == "1"  # the worker carried on
        assert w.running()


BUG_PLUGIN = """
from emhub_worker_core import TaskHandler, hookimpl


class Bug(TaskHandler):
    def process(self) -> None:
        float("soon")  # a handler's bug, not bad input


@hookimpl
def emworker_register_tasks(register):
    register("bug", Bug)
"""


def with_bug_plugin(env: dict[str, str], folder: Path) -> dict[str, str]:
    """The worker also loads a one-file plugin whose handler has a bug: an entry point in a
    dist-info folder on PYTHONPATH is all importlib.metadata needs."""
    folder.mkdir()
    (folder / "emworker_bug.py").write_text(BUG_PLUGIN)
    info = folder / "emworker_bug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: emworker-bug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[emworker]\nbug = emworker_bug\n")
    path = [str(folder)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    return {**env, "PYTHONPATH": os.pathsep.join(path)}


def test_a_refused_task_is_one_line_in_task_history_and_a_bug_keeps_its_stack(
        emhub_server: EMhubServer, admin: AdminClient, worker_env: dict[str, str],
        tmp_path: Path) -> None:
    worker = "docs-1.test"
    env = with_bug_plugin(worker_env, tmp_path / "bug-plugin")
    with start_worker(emhub_server, env, tmp_path, worker) as w:
        bad_arg = admin.create_task(worker, "echo", {"repeat": 0})
        bad_type = admin.create_task(worker, "echo", {"interval": "soon"})
        outside = admin.create_task(worker, "frames", {"root": "/etc"})
        bug = admin.create_task(worker, "bug", {})
        wait_for(lambda: done(admin, worker, bad_arg, bad_type, outside, bug), "all done",
                 log=w.log)
        # what EMhub stored, as its Task History dialog shows it
        assert admin.task_history(bad_arg) == [
            {"error": "task arg 'repeat': must be at least 1, got 0", "done": "1"}]
        assert admin.task_history(bad_type) == [
            {"error": "task arg 'interval': must be a number of seconds, got 'soon'",
             "done": "1"}]
        [event] = admin.task_history(outside)
        assert set(event) == {"error", "done"} and "\n" not in event["error"]
        assert "/etc" in event["error"] and "Traceback" not in event["error"]
        [event] = admin.task_history(bug)
        assert event["error"].startswith("ValueError: could not convert string to float")
        assert "Traceback" in event["stack"]
        log = w.log_text()
        assert "task refused: task arg 'repeat': must be at least 1, got 0" in log
        assert log.count("Traceback") == 1  # the bug's, in the log


def test_pending_tasks_resume_after_a_worker_restart(
        emhub_server: EMhubServer, admin: AdminClient, worker_env: dict[str, str],
        tmp_path: Path) -> None:
    worker = "core-2.test"
    w = start_worker(emhub_server, worker_env, tmp_path, worker)
    try:
        long = admin.create_task(worker, "echo", {"message": "long", "repeat": 6,
                                                  "interval": 0.4})
        wait_for(lambda: len(admin.task_history(long)) >= 2, "two events", log=w.log)
        w.signal(signal.SIGTERM)
        assert w.wait() == 0
    finally:
        w.stop()
    assert admin.task_status(worker, long) == "pending"
    assert admin.task_history(long)[-1]["interrupted"] == "1"
    # Created while no worker runs. The stopped worker's last long poll is still held by
    # EMhub and may swallow it ("pending" at once): either way the restart must run it.
    queued = admin.create_task(worker, "echo", {"repeat": 1})
    assert admin.task_status(worker, queued) in ("", "pending")

    with start_worker(emhub_server, worker_env, tmp_path, worker) as w2:
        wait_for(lambda: done(admin, worker, long, queued), "both tasks done", log=w2.log)
        assert f"resuming pending task {long}" in w2.log_text()
    history = admin.task_history(long)
    cut = next(i for i, e in enumerate(history) if "interrupted" in e)
    assert counts(history[cut + 1:]) == [1, 2, 3, 4, 5, 6]  # resumed and run to its end
    assert history[-1]["done"] == "1"


def test_task_swallowed_by_an_abandoned_poll_is_not_lost(
        emhub_server: EMhubServer, admin: AdminClient, worker_env: dict[str, str],
        tmp_path: Path) -> None:
    # A 2 s read timeout makes the worker abandon polls EMhub keeps open for 60 s; Redis
    # hands a new task to the oldest waiting poll, i.e. an abandoned one. Only the
    # periodic get_pending_tasks re-check can find such a task.
    worker = "core-3.test"
    with start_worker(emhub_server, worker_env, tmp_path, worker,
                      emhub_settings={"poll_timeout": 2, "pending_recheck": 1}) as w:
        w.wait_log("connected to EMhub")
        time.sleep(3)  # set-up, not a measurement: let at least one poll be abandoned
        tasks = [admin.create_task(worker, "echo", {"repeat": 1, "message": str(i)})
                 for i in range(3)]
        wait_for(lambda: done(admin, worker, *tasks), "all tasks done", log=w.log)
        log = w.log_text()
        assert any(f"picking up pending task {t}" in log for t in tasks), \
            "no task went through the pending re-check; the test proves nothing"
        for task in tasks:
            assert admin.task_history(task)[-1]["done"] == "1"


# A running task riding out an EMhub (and Redis) restart without losing an event is
# tests/test_restart_real.py's 16-task outage; Redis's outage alone is test_outages_real's.


def test_worker_waits_for_emhub_down_at_start_up(
        emhub_server: EMhubServer, worker_env: dict[str, str], tmp_path: Path) -> None:
    worker = "core-5.test"
    emhub_server.stop_emhub()
    try:
        w = start_worker(emhub_server, worker_env, tmp_path, worker,
                         emhub_settings={"retry_max_delay": 1})
        w.wait_log("EMhub call failed")
        assert w.running()
    finally:
        emhub_server.start_emhub()
    with w, emhub_server.admin() as admin:
        task = admin.create_task(worker, "echo", {"repeat": 1})
        wait_for(lambda: done(admin, worker, task), "task done", log=w.log)
        assert w.log_text().count("EMhub call failed") == 1  # then summaries, not a flood


def test_sigterm_leaves_every_task_done_or_resumable(
        emhub_server: EMhubServer, admin: AdminClient, worker_env: dict[str, str],
        tmp_path: Path) -> None:
    worker = "core-6.test"
    w = start_worker(emhub_server, worker_env, tmp_path, worker)
    try:
        short = admin.create_task(worker, "echo", {"repeat": 1})
        longs = [admin.create_task(worker, "echo", {"message": f"long{i}", "repeat": 1000,
                                                    "interval": 0.3}) for i in range(3)]
        wait_for(lambda: done(admin, worker, short) and all(
            len(admin.task_history(t)) >= 2 for t in longs), "tasks running", log=w.log)
        w.signal(signal.SIGTERM)
        assert w.wait() == 0
    finally:
        w.stop()
    assert admin.task_status(worker, short) == "done"
    for task in longs:
        assert admin.task_status(worker, task) == "pending"
        assert "interrupted" in admin.task_history(task)[-1]
    with start_worker(emhub_server, worker_env, tmp_path, worker) as w2:
        wait_for(lambda: all(_resumed(admin.task_history(t)) for t in longs),
                 "every long task resumed", log=w2.log)


def _resumed(history: list[dict[str, str]]) -> bool:
    """An ``interrupted`` event followed by new work."""
    cut = max(i for i, e in enumerate(history) if "interrupted" in e)
    return any("message" in e for e in history[cut + 1:])


def test_concurrency_limit_per_task_name(
        emhub_server: EMhubServer, admin: AdminClient, worker_env: dict[str, str],
        tmp_path: Path) -> None:
    worker = "spare-2.test"
    with start_worker(emhub_server, worker_env, tmp_path, worker,
                      worker_settings={"max_tasks": 4, "max_tasks_per_name": {"echo": 1}}) as w:
        first = admin.create_task(worker, "echo", {"repeat": 3, "interval": 0.3})
        second = admin.create_task(worker, "echo", {"repeat": 3, "interval": 0.3})
        wait_for(lambda: done(admin, worker, first, second), "both done", log=w.log)
    a, b = admin.task_events(first), admin.task_events(second)
    earlier, later = (a, b) if a[0][0] < b[0][0] else (b, a)
    assert _stream_ms(later[0][0]) >= _stream_ms(earlier[-1][0]), "they overlapped"


def _stream_ms(event_id: str) -> tuple[int, int]:
    ms, seq = event_id.split("-")
    return int(ms), int(seq)


@pytest.mark.parametrize("case", ["wrong password", "unregistered name"])
def test_authentication_failure_is_fatal_with_its_own_exit_code(
        case: str, emhub_server: EMhubServer, worker_env: dict[str, str],
        tmp_path: Path) -> None:
    wrong = "Wr0ng-pa55word"
    if case == "wrong password":
        name, settings = "spare-3.test", {"emhub_settings": {"password": wrong}}
    else:
        name, settings = "ghost.test", {}
    w = start_worker(emhub_server, worker_env, tmp_path, name, **settings)
    try:
        assert w.wait() == 4
    finally:
        w.stop()
    log = w.log_text()
    assert ("refused the login" if case == "wrong password" else "Unregistered host") in log
    assert wrong not in log


def test_stock_client_environment_variables(
        emhub_server: EMhubServer, admin: AdminClient, worker_env: dict[str, str],
        tmp_path: Path) -> None:
    worker = "spare-3.test"
    config = tmp_path / "env.toml"
    config.write_text(f'[worker]\nname = "{worker}"\nstate_dir = "{tmp_path}/state"\n')
    env = {**worker_env, "EMHUB_SERVER_URL": emhub_server.url, "EMHUB_USER": "admin",
           "EMHUB_PASSWORD": emhub_server.password}
    with WorkerProcess(config, env, tmp_path / "env.log").start() as w:
        task = admin.create_task(worker, "echo", {"repeat": 1})
        wait_for(lambda: done(admin, worker, task), "task done", log=w.log)
