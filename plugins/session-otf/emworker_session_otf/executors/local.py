"""Local: the workflow runs on this machine, in its own session and process group.

The job id is ``"<pid>:<start time>"``; the start time from ``/proc/<pid>/stat`` tells our
job from a later process that got the same PID. The job outlives the worker (a SIGKILLed
worker takes nothing with it) and its exit status comes from the status file the wrapper
writes (:mod:`emworker_session_otf.wrapper`), since a restarted worker is not its parent.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Optional

from ..wrapper import job_files, proc_start_time
from .base import FAILED, FINISHED, RUNNING, UNKNOWN, ExecutorError, JobSpec, JobState

# Children started by this process, so their exit is collected (no zombies while we run).
_children: dict[str, subprocess.Popen[bytes]] = {}
_lock = threading.Lock()


def _parse(job_id: str) -> tuple[int, str]:
    pid, _, start = job_id.partition(":")
    if not pid.isdigit() or not start.isdigit():
        raise ExecutorError(f"not a local job id: {job_id!r}")
    return int(pid), start


def _alive(pid: int, start: str) -> bool:
    """The process with this PID is ours (same start time) and has not exited."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = text.rsplit(")", 1)[1].split()
    return fields[19] == start and fields[0] not in ("Z", "X")


def _read_status(path: Path) -> tuple[int, int] | None:
    """(exit code, signal) from the wrapper's status file; None while there is none."""
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
        return int(status["exit_code"]), int(status.get("signal") or 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None


class LocalExecutor:
    name = "local"

    def __init__(self, folder: Path) -> None:
        self.folder = folder  # where the wrapper writes the log and status files

    def submit(self, spec: JobSpec) -> str:
        if spec.options:
            raise ExecutorError(f"local: scheduler options {sorted(spec.options)} do not apply")
        with open(spec.log_path, "ab") as wrapper_log:
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "emworker_session_otf.wrapper", str(self.folder),
                     "--", *spec.argv], cwd=spec.workdir, stdout=wrapper_log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True)
            except OSError as exc:
                raise ExecutorError(f"cannot start the local job: {exc}") from exc
        start = proc_start_time(proc.pid)
        if not start:
            proc.wait()
            raise ExecutorError(f"the local job exited at once (code {proc.returncode})")
        job_id = f"{proc.pid}:{start}"
        with _lock:
            _children[job_id] = proc
        return job_id

    def state(self, job_id: str) -> JobState:
        pid, start = _parse(job_id)
        with _lock:
            child = _children.get(job_id)
        status = _read_status(job_files(self.folder, pid, start)[1])
        if status is not None:  # written last: the job is over, even if not yet exited
            if child is not None:
                with _lock:
                    _children.pop(job_id, None)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(5)  # collect our child's exit (it is exiting)
            code = status[0]
            return JobState(FINISHED if code == 0 else FAILED, code,
                            f"signal {status[1]}" if status[1] else "exited")
        wrapper_code = child.poll() if child is not None else None
        if _alive(pid, start):
            return JobState(RUNNING, detail=f"pid {pid}")
        if wrapper_code is not None and wrapper_code < 0:
            # signalled before it could record anything (e.g. cancelled as it started)
            return JobState(FAILED, 128 - wrapper_code, f"signal {-wrapper_code}")
        return JobState(UNKNOWN, detail="exited without a status file")

    def cancel(self, job_id: str) -> None:
        pid, start = _parse(job_id)
        if not _alive(pid, start):
            return
        try:
            os.killpg(pid, signal.SIGTERM)  # the wrapper leads its own group (new session)
        except ProcessLookupError:
            return
        except PermissionError as exc:
            raise ExecutorError(f"cannot signal local job {job_id}: {exc}") from exc

    def find(self, name: str) -> Optional[str]:
        return None  # submit is one fork: there is no window without an id to recover

    def log_path(self, spec_log: Path, job_id: str) -> Path:
        pid, start = _parse(job_id)
        return job_files(self.folder, pid, start)[0]
