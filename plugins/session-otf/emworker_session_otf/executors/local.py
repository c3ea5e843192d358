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
import pwd
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

from emhub_worker_core.guard import read_bounded

from ..wrapper import WRAPPER_MODULE, job_files, open_log, proc_start_time
from .base import FAILED, FINISHED, RUNNING, UNKNOWN, ExecutorError, JobOwner, JobSpec, JobState

# Children started by this process, so their exit is collected (no zombies while we run).
_children: dict[str, subprocess.Popen[bytes]] = {}
_lock = threading.Lock()


_LOCAL_ID = re.compile(r"([1-9][0-9]{0,9}):([0-9]{1,20})", re.ASCII)


def _parse(job_id: str) -> tuple[int, str]:
    match = _LOCAL_ID.fullmatch(job_id) if isinstance(job_id, str) else None
    if not match:
        raise ExecutorError(f"local: {job_id!r} is not a job id (pid:start)")
    return int(match.group(1)), match.group(2)


def _wrapper_of(pid: int) -> Optional[tuple[str, str]]:
    """(job name, user) when ``pid`` is one of our wrappers, else None."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    words = [a.decode(errors="replace") for a in argv]
    if words[1:3] != ["-m", WRAPPER_MODULE] or words[3:4] != ["--name"] or len(words) < 5:
        return None
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return words[4], user


def _alive(pid: int, start: str) -> bool:
    """The process with this PID is ours (same start time) and has not exited."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = text.rsplit(")", 1)[1].split()
    return fields[19] == start and fields[0] not in ("Z", "X")


def _read_status(path: Path) -> tuple[int, int] | None:
    """(exit code, signal) from the wrapper's status file; None while there is none (or
    it is not a regular file: the job user can write the folder)."""
    try:
        status = json.loads(read_bounded(path.parent, path.name, 64 << 10))
        return int(status["exit_code"]), int(status.get("signal") or 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None


class LocalExecutor:
    name = "local"

    def __init__(self, folder: Path, kill_after: float = 10.0) -> None:
        self.folder = folder  # where the wrapper writes the log and status files
        self.kill_after = kill_after  # SIGTERM, then SIGKILL to the group after this long

    def valid_id(self, job_id: str) -> str:
        _parse(job_id)
        return job_id

    def submit(self, spec: JobSpec) -> str:
        if spec.options:
            raise ExecutorError(f"local: scheduler options {sorted(spec.options)} do not apply")
        with open(open_log(spec.log_path), "ab") as wrapper_log:
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-m", WRAPPER_MODULE, "--name", spec.name,
                     str(self.folder), "--", *spec.argv], cwd=spec.workdir, stdout=wrapper_log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True, env=dict(spec.env))
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
        """SIGTERM to the job's group, SIGKILL after ``kill_after``; our child is reaped."""
        pid, start = _parse(job_id)
        if not _alive(pid, start) or _wrapper_of(pid) is None:
            self._reap(job_id, 0)
            return
        for signum in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, signum)  # the wrapper leads its own group (new session)
            except ProcessLookupError:
                break
            except PermissionError as exc:
                raise ExecutorError(f"cannot signal local job {job_id}: {exc}") from exc
            deadline = time.monotonic() + self.kill_after
            while _alive(pid, start) and time.monotonic() < deadline:
                if not self._reap(job_id, 0.05):
                    time.sleep(0.05)
            if not _alive(pid, start):
                break
        self._reap(job_id, 1.0)

    @staticmethod
    def _reap(job_id: str, timeout: float) -> bool:
        """Collect our child's exit (no zombie left); True when it has exited."""
        with _lock:
            child = _children.get(job_id)
        if child is None:
            return False
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def owner(self, job_id: str) -> Optional[JobOwner]:
        pid, start = _parse(job_id)
        found = _wrapper_of(pid) if _alive(pid, start) else None
        return JobOwner(job_id, found[0], found[1], RUNNING) if found else None

    def live_jobs(self, prefix: str) -> list[JobOwner]:
        jobs = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            found = _wrapper_of(int(entry))
            start = proc_start_time(int(entry))
            if found and found[0].startswith(prefix) and start and _alive(int(entry), start):
                jobs.append(JobOwner(f"{entry}:{start}", found[0], found[1], RUNNING))
        return jobs

    def find(self, name: str) -> Optional[str]:
        found = [job.job_id for job in self.live_jobs(name) if job.name == name]
        return found[0] if found else None

    def log_path(self, spec_log: Path, job_id: str) -> Path:
        pid, start = _parse(job_id)
        return job_files(self.folder, pid, start)[0]
