"""One process per worker state folder: the lock ``emworker run`` holds for its life.

A second ``emworker run`` with the same worker name (so the same state folder) next to a
running one would resume the first one's running tasks, send ``interrupted`` for them
when stopped, and overwrite its state file. So the worker takes an exclusive
``flock`` on ``<state folder>/run.lock`` before anything else and keeps it until it exits;
the kernel drops the lock when the process dies, however it dies. The file holds the
holder's process id, for people and for ``emworker status``, which asks the lock itself
(a shared lock it cannot get means a live holder) rather than trusting the id.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path
from typing import IO, Optional

from ..contract.errors import AlreadyRunning as AlreadyRunning  # in the one tree; kept here too

LOCK_FILE = "run.lock"
#: ``emworker status`` holds a shared lock for an instant while it looks; a starting
#: worker tries again for this long before it calls the folder taken.
RETRY_FOR = 1.0


def _busy(exc: OSError) -> bool:
    return exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)


def hold_run_lock(state_dir: Path, worker: str) -> IO[str]:
    """Take the worker's lock for this process's life (keep the returned file open).

    :class:`AlreadyRunning` names the live holder; an :class:`OSError` means the folder
    cannot be used (the caller decides)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    handle = open(path, "a+", encoding="utf-8")  # not truncated before we hold it
    deadline = time.monotonic() + RETRY_FOR
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if not _busy(exc) or time.monotonic() >= deadline:
                holder = _read_pid(handle)
                handle.close()
                if not _busy(exc):
                    raise
                who = f"process {holder}" if holder else "another process"
                raise AlreadyRunning(
                    f"worker {worker} is already running ({who} holds {path}); one worker "
                    f"name, one process: stop that one first, or give this one another "
                    f"[worker] name") from None
            time.sleep(0.05)
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _read_pid(handle: IO[str]) -> Optional[int]:
    try:
        handle.seek(0)
        text = handle.read(32).strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def lock_state(state_dir: Path) -> tuple[str, Optional[int]]:
    """``("held", pid)`` while a live process holds the lock, ``("free", pid)`` when the
    file is there and nobody holds it, ``("absent", None)`` when there is none (no
    worker ran here with this version); ``pid`` is the id the file holds."""
    try:
        handle = open(state_dir / LOCK_FILE, encoding="utf-8")
    except OSError:
        return "absent", None
    with handle:
        pid = _read_pid(handle)
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            return ("held" if _busy(exc) else "absent"), pid
        fcntl.flock(handle, fcntl.LOCK_UN)
        return "free", pid
