"""What docs/quickstart-emhub.rst promises, on the real EMhub 1.0.2.

The worker's account needs no role: a plain ``user`` account logs in, connects a worker
name, receives and finishes its tasks, and makes every ``self.emhub`` call.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from emhub_worker_core.sources.emhub.client import EMhubClient
from emhub_worker_core.sources.emhub.settings import EMhubSettings
from tests.harness.emhub_server import EMhubServer

pytestmark = pytest.mark.emhub

WORKER = "quickstart.test"  # in the harness's config:hosts for this test only
#: a test user of the harness instance with the role "user" (password: the last name)
PLAIN_USER, PLAIN_PASSWORD = "john.smith@inst.org", "smith"


def plain_client(emhub_server: EMhubServer) -> EMhubClient:
    settings = EMhubSettings(url=emhub_server.url, user=PLAIN_USER, password=PLAIN_PASSWORD)
    return EMhubClient(settings, WORKER)


def test_a_plain_user_account_is_enough_for_a_worker(emhub_server: EMhubServer) -> None:
    client = plain_client(emhub_server)
    try:
        client.login()
        assert client.connect_worker({"CPUs": 1})
        with emhub_server.admin() as admin:
            task_id = admin.create_task(WORKER, "frames", {})
        delivered = client.get_new_tasks()  # the task is queued: returns at once
        assert [t["id"] for t in delivered] == [task_id]
        client.update_task(task_id, {"msg": "hello", "done": 1})
        with emhub_server.admin() as admin:
            assert admin.task_status(WORKER, task_id) == "done"
        session_id = emhub_server.transfer_session["id"]
        assert client.get_session(session_id)["id"] == session_id
        assert "raw" in client.get_config("sessions")
        assert WORKER in client.get_config("hosts")
        assert client.get_resources()
        assert "owner" in client.get_session_users(session_id)
        client.update_session_extra(session_id, {"quickstart_probe": {"ok": 1}})
    finally:
        client.close()


def test_check_passes_with_a_plain_user_account(emhub_server: EMhubServer,
                                                tmp_path: Path) -> None:
    config = emhub_server.worker_config(tmp_path / "c.toml", WORKER,
                                        emhub_settings={"user": PLAIN_USER,
                                                        "password": PLAIN_PASSWORD})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMHUB_", "EMWORKER_"))}
    result = subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config",
                             str(config), "check"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"logged in as {PLAIN_USER}" in result.stdout


def test_the_quick_start_runs_as_written(emhub_server: EMhubServer, tmp_path: Path) -> None:
    """Steps 3 to 5 of docs/quickstart-emhub.rst, the page's own blocks, against the real
    EMhub: its configuration, ``check``, ``run``, and the API call that creates a task,
    which reaches the worker and is answered. The paths, address, worker name and account
    of the page are the sandbox's (tests/doc_sandbox.py)."""
    import json
    import re
    import signal

    from tests.doc_examples import example
    from tests.doc_sandbox import WORKER as DOC_WORKER
    from tests.doc_sandbox import Sandbox
    from tests.harness.emhub_worker import WorkerProcess, wait_for
    from tests.test_docs_examples import SETUPS, command_lines

    page = "docs/quickstart-emhub.rst"
    box = Sandbox(tmp_path, emhub=emhub_server)
    SETUPS["quickstart"](box)  # the page's configuration file, and its password file
    [check] = command_lines(example(page, "/opt/emworker/bin/emworker --config "
                                          "/etc/emworker/config.toml check").text)
    proc = box.bash([(check, frozenset({0}))])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all checks passed" in proc.stdout and f"logged in as {PLAIN_USER}" in proc.stdout

    [run] = command_lines(example(page, "/opt/emworker/bin/emworker --config "
                                        "/etc/emworker/config.toml run").text)
    match = re.fullmatch(r"emworker --config (\S+) run", box.text(run))
    assert match, run
    worker = WorkerProcess(Path(match.group(1)), box.env(), tmp_path / "worker.log").start()
    try:
        worker.wait_connected()
        (tmp_path / "login.json").write_text(json.dumps(
            {"username": emhub_server.user, "password": emhub_server.password}))
        (tmp_path / "login.json").chmod(0o600)
        api = example(page, "curl -sS -c cookies")
        proc = box.bash([(line, frozenset({0})) for line in command_lines(api.text)])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.startswith('"OK"'), proc.stdout  # the login's answer
        created = re.search(r'\{"task": ?\{"id": ?"([^"]+)"\}\}', proc.stdout)
        assert created, proc.stdout
        task_id = created.group(1)
        with emhub_server.admin() as admin:
            history = wait_for(lambda: [e for e in admin.task_history(task_id)
                                        if "entries" in e], "the frames listing",
                               log=worker.log)
            assert json.loads(history[-1]["entries"]) is not None
            assert "error" not in history[-1]
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
    finally:
        worker.stop()
        with emhub_server.admin() as admin:  # leave the name without a pending task
            for task in admin.pending_tasks(DOC_WORKER):
                admin.delete_task(DOC_WORKER, str(task["id"]))
