"""Slurm: ``sbatch --parsable`` to submit, ``squeue`` then ``scontrol``/``sacct`` for the
state (a finished job leaves squeue; its exit code is in the controller's memory for
``MinJobAge``, then in accounting, or in the job completion log ``sacct -c`` reads on a
cluster without an accounting database), ``scancel`` to cancel.

The submitted script is the fixed ``job.sh`` shipped with the plugin (``exec "$@"``); the
workflow's argv follows it as the script's arguments, so no shell line is ever built.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

from .base import (
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    STOPPED,
    UNKNOWN,
    ExecutorError,
    JobOwner,
    JobSpec,
    JobState,
    OutcomeUnknown,
    SchedulerCommands,
    option_args,
    scheduler_env,
    unknown_options,
)

JOB_SCRIPT = Path(__file__).resolve().parent.parent / "job.sh"
FLAGS = {"partition": "--partition=", "cpus": "--cpus-per-task=", "memory": "--mem=",
         "time": "--time=", "account": "--account=", "user": "--uid="}
_STATES = {
    QUEUED: ("PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
             "RESV_DEL_HOLD", "SPECIAL_EXIT"),
    RUNNING: ("RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT",
              "RESIZING"),
    FINISHED: ("COMPLETED",),
    STOPPED: ("CANCELLED",),
    FAILED: ("FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE",
             "PREEMPTED", "REVOKED"),
}
_JOB_ID = re.compile(r"^\d+$")
_QUEUE_FORMAT = "%i|%j|%u|%T"  # id|name|user|state, one job per line


def map_state(word: str) -> str:
    """Slurm's state word (``CANCELLED by 0``, ``RUNNING``) -> our status."""
    head = word.strip().split(" ")[0].rstrip("+").upper()
    for status, words in _STATES.items():
        if head in words:
            return status
    return UNKNOWN


def exit_code(text: str) -> Optional[int]:
    """``3:0`` -> 3; ``0:15`` (killed by signal 15) -> 143, as a shell would say."""
    match = re.match(r"^\s*(\d+):(\d+)", text)
    if not match:
        return None
    code, signal = int(match.group(1)), int(match.group(2))
    return 128 + signal if signal and not code else code


class SlurmExecutor(SchedulerCommands):
    name = "slurm"

    def submit(self, spec: JobSpec) -> str:
        bad = unknown_options(spec.options, [*FLAGS, "gpus"])
        if bad:
            raise ExecutorError(f"slurm: option(s) {bad} not understood (use partition, gpus, "
                                "cpus, memory, time, account, user)")
        if "%" in str(spec.workdir):
            raise ExecutorError(f"slurm: '%' in the OTF folder {spec.workdir} would be read as "
                                "a file name pattern")
        # the job gets exactly these variables (and Slurm's own SLURM_*), never ALL: the
        # worker's environment may hold EMhub's password
        export = ",".join(sorted(spec.env)) or "NONE"
        argv = ["sbatch", "--parsable", f"--job-name={spec.name}", f"--chdir={spec.workdir}",
                f"--output={spec.workdir / 'otf-%j.log'}", f"--export={export}",
                *option_args(spec.options, FLAGS)]
        if "gpus" in spec.options:
            argv.append(f"--gres=gpu:{spec.options['gpus']}")
        _rc, out, _err = self._run(*argv, str(JOB_SCRIPT), *spec.argv,
                                   env=scheduler_env(spec.env, os.environ))
        job_id = out.strip().split(";")[0]
        if not _JOB_ID.match(job_id):
            raise OutcomeUnknown(f"sbatch printed no job id: {out.strip()[:200]!r}")
        return job_id

    def state(self, job_id: str) -> JobState:
        self.valid_id(job_id)
        rc, out, _err = self._run("squeue", "-h", "-j", job_id, "-o", "%T", check=False)
        word = out.strip().splitlines()[0] if rc == 0 and out.strip() else ""
        status = map_state(word) if word else UNKNOWN
        if status in (QUEUED, RUNNING):
            return JobState(status, detail=word)
        return self._final(job_id, word)

    def _final(self, job_id: str, squeue_word: str) -> JobState:
        """A job squeue shows ended, or no longer shows: its state and exit code."""
        rc, out, _err = self._run("scontrol", "show", "job", "-o", job_id, check=False)
        state = re.search(r"\bJobState=(\S+)", out) if rc == 0 else None
        if state:
            code = re.search(r"\bExitCode=(\S+)", out)
            status = map_state(state.group(1))
            if status not in (QUEUED, RUNNING) or not squeue_word:
                return JobState(status, exit_code(code.group(1)) if code else None,
                                state.group(1))
            return JobState(status, detail=state.group(1))
        # accounting first; without a database, the job completion log (``sacct -c``)
        for source in (["-X"], ["-c"]):
            rc, out, _err = self._run("sacct", "-n", "-P", *source, "-j", job_id, "-o",
                                      "JobID,State,ExitCode", check=False)
            for line in out.splitlines() if rc == 0 else []:
                found_id, word, code_text = (line.split("|") + ["", ""])[:3]
                if found_id.strip() != job_id:
                    continue
                status = map_state(word)
                return JobState(status, exit_code(code_text)
                                if status not in (QUEUED, RUNNING) else None, word)
        return JobState(UNKNOWN, detail=squeue_word)

    def cancel(self, job_id: str) -> None:
        self._run("scancel", self.valid_id(job_id))

    def owner(self, job_id: str) -> Optional[JobOwner]:
        self.valid_id(job_id)
        rc, out, err = self._run("scontrol", "show", "job", "-o", job_id, check=False)
        if rc != 0 and "Invalid job id" not in err:  # the controller could not be asked
            raise ExecutorError(f"scontrol show job {job_id} exited with {rc}: "
                                f"{err.strip()[:300]}")
        name = re.search(r"\bJobName=(\S+)", out) if rc == 0 else None
        user = re.search(r"\bUserId=([^(\s]+)", out) if rc == 0 else None
        state = re.search(r"\bJobState=(\S+)", out) if rc == 0 else None
        if name and user and re.search(rf"\bJobId={job_id}\b", out):
            return JobOwner(job_id, name.group(1), user.group(1),
                            map_state(state.group(1)) if state else UNKNOWN)
        return None

    def live_jobs(self, prefix: str) -> list[JobOwner]:
        rc, out, err = self._run("squeue", "-h", "-o", _QUEUE_FORMAT, check=False)
        if rc != 0:
            raise ExecutorError(f"squeue exited with {rc}: {err.strip()[:300]}")
        jobs = []
        for line in out.splitlines():
            if line.count("|") < 3:
                continue
            job_id, rest = line.split("|", 1)
            name, user, word = rest.rsplit("|", 2)  # a job name may hold "|"; a user never
            if name.startswith(prefix) and map_state(word) in (QUEUED, RUNNING) \
                    and _JOB_ID.match(job_id.strip()):
                jobs.append(JobOwner(job_id.strip(), name, user, map_state(word)))
        return jobs

    def find(self, name: str) -> Optional[str]:
        found = [job.job_id for job in self.live_jobs(name) if job.name == name]
        return found[0] if found else None

    def log_path(self, spec_log: Path, job_id: str) -> Path:
        return spec_log.parent / f"otf-{self.valid_id(job_id)}.log"
