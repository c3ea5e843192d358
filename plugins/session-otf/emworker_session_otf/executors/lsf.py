"""LSF: ``bsub`` to submit, ``bjobs -o "stat exit_code"`` for the state, ``bkill`` to cancel.

LSF hands a job's command line to a shell on the execution host (it stores it in the job
file), so each argv item is quoted with :func:`shlex.quote` here: the shell there turns
them back into exactly our argv, and no metacharacter in a value is ever interpreted.
Tested on outputs written from LSF's documented formats (no LSF is available here).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Optional

from .base import (
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    UNKNOWN,
    ExecutorError,
    JobOwner,
    JobSpec,
    JobState,
    OutcomeUnknown,
    SchedulerCommands,
    scheduler_env,
    unknown_options,
)

_SUBMITTED = re.compile(r"Job <(\d+)> is submitted")
_STATES = {"PEND": QUEUED, "PROV": QUEUED, "PSUSP": QUEUED, "WAIT": QUEUED,
           "RUN": RUNNING, "USUSP": RUNNING, "SSUSP": RUNNING,
           "DONE": FINISHED, "EXIT": FAILED}
_JOB_ID = re.compile(r"[1-9][0-9]{0,11}", re.ASCII)
JOBS_FORMAT = "jobid:20 stat:8 user:64 job_name:256"
KNOWN = ("queue", "cpus", "time", "account", "gpus", "memory", "user")


class LsfExecutor(SchedulerCommands):
    name = "lsf"

    def submit(self, spec: JobSpec) -> str:
        bad = unknown_options(spec.options, KNOWN)
        if bad or "user" in spec.options:
            raise ExecutorError(f"lsf: option(s) {bad or ['user']} not supported (use queue, "
                                "cpus, time, account, gpus, memory; run the worker as the "
                                "submitting user)")
        opts = spec.options
        argv = ["bsub", "-J", spec.name, "-cwd", str(spec.workdir),
                "-o", str(spec.workdir / "otf-%J.log")]
        for key, flag in (("queue", "-q"), ("cpus", "-n"), ("time", "-W"),
                          ("account", "-P"), ("memory", "-M")):
            if key in opts:
                argv += [flag, opts[key]]
        if "gpus" in opts:
            argv += ["-gpu", f"num={opts['gpus']}"]
        # bsub copies the whole submission environment unless told: name the variables
        argv += ["-env", ", ".join(sorted(spec.env)) or "none"]
        _rc, out, err = self._run(*argv, *(shlex.quote(a) for a in spec.argv),
                                  env=scheduler_env(spec.env, os.environ))
        match = _SUBMITTED.search(out) or _SUBMITTED.search(err)
        if not match:
            raise OutcomeUnknown(f"bsub printed no job id: {(out or err).strip()[:200]!r}")
        return match.group(1)

    def state(self, job_id: str) -> JobState:
        self.valid_id(job_id)
        rc, out, err = self._run("bjobs", "-noheader", "-o", "stat exit_code", job_id,
                                 check=False)
        line = out.strip().splitlines()[0] if out.strip() else ""
        if rc != 0 or not line or "not found" in line:
            if "not found" in (out + err):
                return JobState(UNKNOWN, detail="not found")
            if rc != 0:
                raise ExecutorError(f"bjobs {job_id} exited with {rc}: {err.strip()[:300]}")
            return JobState(UNKNOWN)
        word, _, code_text = line.partition(" ")
        status = _STATES.get(word.strip(), UNKNOWN)
        code_text = code_text.strip()
        code = int(code_text) if code_text.isdigit() else None
        if status == FINISHED:
            code = 0
        return JobState(status, code, word.strip())

    def cancel(self, job_id: str) -> None:
        rc, out, err = self._run("bkill", self.valid_id(job_id), check=False)
        if rc != 0 and "already finished" not in (out + err):
            raise ExecutorError(f"bkill {job_id} exited with {rc}: {(err or out).strip()[:300]}")

    def _jobs(self, *select: str) -> list[JobOwner]:
        """``bjobs`` lines as (id, name, user, status); the name is the last column, since
        it is the only one that may hold spaces."""
        # widths given: a default-width job_name would be cut short of ours
        rc, out, err = self._run("bjobs", "-noheader", "-o", JOBS_FORMAT, *select,
                                 check=False)
        said = out + err  # "Job <1> is not found", "No unfinished job found": none, no error
        if rc != 0 and "not found" not in said and "No unfinished job" not in said:
            raise ExecutorError(f"bjobs exited with {rc}: {(err or out).strip()[:300]}")
        jobs = []
        for line in out.splitlines() if rc == 0 else []:
            parts = line.strip().split(None, 3)
            if len(parts) == 4 and _JOB_ID.fullmatch(parts[0]):
                jobs.append(JobOwner(parts[0], parts[3].rstrip(), parts[2],
                                     _STATES.get(parts[1], UNKNOWN)))
        return jobs

    def owner(self, job_id: str) -> Optional[JobOwner]:
        found = [job for job in self._jobs(self.valid_id(job_id)) if job.job_id == job_id]
        return found[0] if found else None

    def live_jobs(self, prefix: str) -> list[JobOwner]:
        return [job for job in self._jobs("-u", "all") if job.name.startswith(prefix)
                and job.status in (QUEUED, RUNNING)]

    def find(self, name: str) -> Optional[str]:
        found = [job.job_id for job in self.live_jobs(name) if job.name == name]
        return found[0] if found else None

    def log_path(self, spec_log: Path, job_id: str) -> Path:
        return spec_log.parent / f"otf-{self.valid_id(job_id)}.log"
