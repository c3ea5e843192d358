"""Whose job is whose: the session's jobs as the scheduler knows them, adopting one that
EMhub names, and cancelling one until the scheduler confirms it.

A job is ours only if the scheduler says so: its name is ``emworker-otf-<session>-...``
and its user is this worker's or the workflow's ``user``. Nothing else, and nothing EMhub
says, makes us adopt or cancel a job.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import time
from pathlib import Path
from typing import Any, Optional

from emhub_worker_core import Runner

from .executors import Executor, ExecutorError, make_executor
from .executors.base import QUEUED, RUNNING, TERMINAL, JobOwner, session_prefix
from .record import JobRecord, record_from_extra
from .workflow import Workflow

CONFIRM_SECONDS = 10.0  # a cancelled job leaves the queue within this, or "stopping" stays


def job_order(job_id: str) -> list[int]:
    """Older first: scheduler ids grow (a local ``pid:start`` by its start time)."""
    numbers = [int(p) for p in re.findall(r"[0-9]+", job_id)]
    return numbers[::-1] if ":" in job_id else numbers


class NotOurs(RuntimeError):
    """EMhub names a job this worker cannot confirm as this session's: never touched."""


class SessionJobs:
    """One session's jobs on its workflow's executor (or, once :meth:`use` switched, on the
    executor a job record names). Raises :class:`ExecutorError` for an unknown executor."""

    def __init__(self, session_id: int, workflow: Workflow, otf_path: Path, runner: Runner,
                 command_timeout: float, logger: logging.LoggerAdapter[Any]) -> None:
        self.sid, self.workflow, self.otf_path = session_id, workflow, otf_path
        self.runner, self.command_timeout, self.logger = runner, command_timeout, logger
        self.executor: Executor = self._executor_for(workflow.executor)

    def _executor_for(self, name: str) -> Executor:
        return make_executor(name, self.runner, self.otf_path, self.command_timeout)

    def use(self, executor: str) -> None:
        """Ask the executor a job record names (a record made before the workflow moved)."""
        if executor and executor != self.executor.name:
            self.executor = self._executor_for(executor)

    # -- whose job ------------------------------------------------------------------------
    def users(self) -> set[str]:
        users = {pwd.getpwuid(os.geteuid()).pw_name}  # not $USER: the environment may lie
        if self.workflow.options.get("user"):
            users.add(self.workflow.options["user"])
        return users

    def is_ours(self, job: Optional[JobOwner]) -> bool:
        if job is None:
            return False
        pattern = re.escape(session_prefix(self.sid)) + r"[0-9]+-[0-9]+"
        return re.fullmatch(pattern, job.name) is not None and job.user in self.users()

    def live(self) -> list[JobOwner]:
        """This session's queued or running jobs, oldest first (ExecutorError if unknown)."""
        jobs = [job for job in self.executor.live_jobs(session_prefix(self.sid))
                if self.is_ours(job)]
        return sorted(jobs, key=lambda job: job_order(job.job_id))

    def adopt(self, otf: dict[str, Any], task_id: str) -> Optional[JobRecord]:
        """A record from EMhub's ``extra.otf`` (another host's, or before a lost state
        folder), used only once its job is confirmed ours. Raises :class:`NotOurs`."""
        record = record_from_extra(self.sid, otf, task_id)
        if record is None:
            return None
        if record.status in TERMINAL:
            record.job_id = ""  # shown as ended; never asked about, never cancelled
            return record
        if record.executor != self.executor.name:
            raise NotOurs(f"extra.otf names a {record.executor!r} job but workflow "
                          f"{self.workflow.name!r} runs on {self.executor.name}")
        try:
            job_id = self.executor.valid_id(record.job_id)
            job = self.executor.owner(job_id)
        except ExecutorError as exc:
            raise NotOurs(f"extra.otf job {record.job_id!r}: {exc}") from None
        if not self.is_ours(job):
            raise NotOurs(f"extra.otf names {self.executor.name} job {job_id}, which is not "
                          f"this session's ({session_prefix(self.sid)}..., user "
                          f"{' or '.join(sorted(self.users()))})")
        assert job is not None
        record.job_name, record.path = job.name, str(self.otf_path)
        record.log = str(self.executor.log_path(self.otf_path / "otf-submit.log", job_id))
        return record

    # -- cancelling -----------------------------------------------------------------------
    def cancel_confirmed(self, job_id: str) -> str:
        """Cancel our job ``job_id``; '' once it has left the queue, else why not (yet)."""
        try:
            self.executor.valid_id(job_id)
            job = self.executor.owner(job_id)
            if job is None or job.status not in (QUEUED, RUNNING):
                return ""
            if not self.is_ours(job):
                return f"job {job_id} is not this session's ({job.name}, {job.user}): " \
                       "not cancelled"
            self.executor.cancel(job_id)
            deadline = time.monotonic() + CONFIRM_SECONDS
            while True:
                job = self.executor.owner(job_id)
                if job is None or job.status not in (QUEUED, RUNNING):
                    return ""
                if time.monotonic() > deadline:
                    return f"job {job_id} still {job.status} after the cancel"
                time.sleep(0.2)
        except ExecutorError as exc:
            return f"cancel of job {job_id} failed: {exc}"

    def cancel_all(self, record: Optional[JobRecord]) -> list[str]:
        """Cancel the recorded job, and any job of this session the scheduler knows by name
        (one submitted just before a crash, or recorded in a file that is now unreadable);
        why each that is not confirmed gone is not."""
        ids = [record.job_id] if record is not None and record.job_id else []
        try:
            ids += [job.job_id for job in self.live() if job.job_id not in ids]
        except ExecutorError as exc:
            self.logger.warning("cannot list %s jobs by name: %s", self.executor.name, exc)
        return [e for e in (self.cancel_confirmed(job_id) for job_id in ids) if e]
