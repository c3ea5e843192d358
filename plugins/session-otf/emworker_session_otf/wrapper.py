"""The local job wrapper: ``python -m emworker_session_otf.wrapper --name NAME DIR -- ARGV``.

The local executor starts this in a session of its own, so the job is not ours to lose:
it survives the worker being SIGKILLed, and a restarted worker re-attaches by PID and
start time. Since that worker is then not its parent, it cannot wait for the exit status,
so this wrapper writes it: ``DIR/otf-local-<pid>-<start>.status`` (JSON, written through a
temporary file and a rename) after the workflow exits. ``NAME`` (the job name) is only
there to be read back from ``/proc/<pid>/cmdline``: a job is adopted or cancelled only if it
is this wrapper with this session's job name. The workflow's output goes to
``DIR/otf-local-<pid>-<start>.log``. A SIGTERM to the process group reaches the workflow
directly; the wrapper keeps waiting so it can still record how the workflow ended.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from emhub_worker_core.guard import DIR_FLAGS, atomic_write, open_regular

WRAPPER_MODULE = "emworker_session_otf.wrapper"
USAGE = f"usage: python -m {WRAPPER_MODULE} --name NAME DIR -- ARGV..."


def proc_start_time(pid: int) -> str:
    """Field 22 of ``/proc/<pid>/stat`` (clock ticks after boot); '' if there is no such PID."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return text.rsplit(")", 1)[1].split()[19]


def job_files(folder: Path, pid: int, start: str) -> tuple[Path, Path]:
    stem = folder / f"otf-local-{pid}-{start}"
    return stem.with_suffix(".log"), stem.with_suffix(".status")


def _write_status(path: Path, status: dict[str, Any]) -> None:
    # the job user can write this folder: a unique temporary name, renamed over the name
    atomic_write(path.parent, path.name, json.dumps(status).encode())


def open_log(path: Path) -> int:
    """The log, appended to, opened without following a link planted at its name."""
    folder = os.open(path.parent, DIR_FLAGS)
    try:
        return open_regular(folder, path.name, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    finally:
        os.close(folder)


def main(argv: list[str]) -> int:
    if len(argv) < 5 or argv[0] != "--name" or argv[3] != "--":
        print(USAGE, file=sys.stderr)
        return 2
    folder, command = Path(argv[2]), argv[4:]
    log_path, status_path = job_files(folder, os.getpid(), proc_start_time(os.getpid()))
    terminated: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: terminated.append(signum))
    started = time.time()
    with open(open_log(log_path), "ab") as log:
        try:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        except OSError as exc:
            log.write(f"emworker: cannot start {command[0]}: {exc}\n".encode())
            _write_status(status_path, {"exit_code": 127, "error": str(exc),
                                        "started": started, "ended": time.time()})
            return 127
        if terminated:  # cancelled before the workflow existed: it gets the signal too
            child.terminate()
        while True:
            try:
                returncode = child.wait()
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries for us
                continue
    signum = -returncode if returncode < 0 else 0
    _write_status(status_path, {"exit_code": 128 + signum if signum else returncode,
                                "signal": signum, "terminated": bool(terminated),
                                "started": started, "ended": time.time()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
