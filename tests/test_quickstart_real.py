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

from emhub_worker_core.emhub.client import EMhubClient
from emhub_worker_core.emhub.settings import EMhubSettings
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
