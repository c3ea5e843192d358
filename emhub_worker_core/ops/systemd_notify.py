"""systemd notification without a dependency: one datagram to ``$NOTIFY_SOCKET``.

Sends ``READY=1`` once plugins are loaded and the task source answered, ``WATCHDOG=1``
from the main loop (so ``WatchdogSec=`` restarts a hung worker), ``STATUS=...`` lines and
``STOPPING=1``. Outside systemd (no ``$NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Mapping, Optional

log = logging.getLogger("emworker.systemd")


class Notifier:
    """Talks to systemd's notification socket, if there is one."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        # "@name" is a socket in the abstract namespace: a leading NUL byte
        self.address: Optional[str] = ("\0" + address[1:]) if address.startswith("@") \
            else (address or None)
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        watched = usec.isdigit() and (not pid or pid == str(os.getpid()))
        #: seconds between watchdog pings (half systemd's timeout), or None
        self.watchdog_interval: Optional[float] = int(usec) / 2e6 if watched else None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines; return whether systemd got them."""
        if self.address is None:
            return False
        message = "\n".join(assignments).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message, self.address)
            return True
        except OSError as exc:
            log.warning("systemd notification failed: %s", exc)
            return False

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> bool:
        return self.send(f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")
