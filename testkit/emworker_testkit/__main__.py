"""``python -m emworker_testkit``: one EMhub + Redis, its address printed, until ^C."""

from __future__ import annotations

import json
import signal
import sys
import threading

from .emhub_server import EMhubServer


def main() -> None:
    server = EMhubServer.create()
    try:
        server.start()
        print(json.dumps({"url": server.url, "user": server.user, "password": server.password,
                          "redis_port": server.redis_port, "run_dir": str(server.run_dir),
                          "workers": server.workers}, indent=1), flush=True)
        stopped = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopped.set())
        while not stopped.wait(1):
            pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
    sys.exit(0)
