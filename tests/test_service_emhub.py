"""A worker as systemd runs it, on the real EMhub: READY, WATCHDOG, STATUS, STOPPING through
``$NOTIFY_SOCKET``, and ``emworker status`` from the state file while it runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from emhub_worker_core.ops import exit_codes
from tests.harness.emhub_server import EMhubServer
from tests.harness.emhub_worker import WorkerProcess, wait_for

pytestmark = pytest.mark.emhub


def test_notify_socket_and_status_under_a_service_manager(emhub_server: EMhubServer,
                                                          tmp_path: Path) -> None:
    config = emhub_server.worker_config(tmp_path / "c.toml", "spare-1.test")
    state_dir = tmp_path / "state-spare-1.test"
    address = str(tmp_path / "notify.sock")
    received: list[str] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.setblocking(False)

        def messages() -> list[str]:
            """Everything received so far (reads what is waiting, never blocks)."""
            try:
                while True:
                    received.append(sock.recv(4096).decode())
            except BlockingIOError:
                pass
            return received

        env = {k: v for k, v in os.environ.items() if not k.startswith(("EMHUB_", "EMWORKER_"))}
        env.update(NOTIFY_SOCKET=address, WATCHDOG_USEC="1000000")
        with WorkerProcess(config, env, tmp_path / "worker.log") as worker:
            wait_for(lambda: any("READY=1" in m for m in messages()), "READY=1",
                     log=worker.log)
            # READY comes first, before EMhub answered (see service.py: READY semantics);
            # the STATUS line then says when the worker is connected.
            ready = next(m for m in received if "READY=1" in m)
            assert "STATUS=connecting to the task source" in ready
            wait_for(lambda: any("STATUS=0 task(s) running" in m for m in messages()),
                     "STATUS= once connected", log=worker.log)
            wait_for(lambda: any(m == "WATCHDOG=1" for m in messages()), "WATCHDOG=1",
                     log=worker.log)

            status = subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config",
                                     str(config), "status", "--json"], env=env,
                                    capture_output=True, text=True, timeout=60)
            report = json.loads(status.stdout)
            assert status.returncode == 0, report
            assert report["state"]["pid"] == worker.pid
            assert report["state"]["worker"] == "spare-1.test"
            assert (state_dir / "state.json").is_file()
            assert worker.stop() == 0
        wait_for(lambda: any("STOPPING=1" in m for m in messages()), "STOPPING=1")

    after = subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config", str(config),
                            "status"], env=env, capture_output=True, text=True, timeout=60)
    assert after.returncode == exit_codes.STATUS_STOPPED and "not running" in after.stdout
