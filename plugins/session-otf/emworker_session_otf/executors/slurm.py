"""Slurm: ``sbatch --parsable`` to submit, ``squeue`` then ``scontrol``/``sacct`` for the
state (a finished job leaves squeue; its exit code is in the controller's memory for
``MinJobAge``, then in accounting, or in the job completion log ``sacct -c`` reads on a
cluster without an accounting database), ``scancel`` to cancel.

The submitted script is the fixed ``job.sh`` shipped with the plugin (``exec "$@"``); the
workflow's argv follows it as the script's arguments, so no shell line is ever built.
"""

from __future__ import annotations

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
    JobSpec,
    JobState,
    SchedulerCommands,
    option_args,
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
        argv = ["sbatch", "--parsable", f"--job-name={spec.name}", f"--chdir={spec.workdir}",
                f"--output={spec.workdir / 'otf-%j.log'}", *option_args(spec.options, FLAGS)]
        if "gpus" in spec.options:
            argv.append(f"--gres=gpu:{spec.options['gpus']}")
        _rc, out, _err = self._run(*argv, str(JOB_SCRIPT), *spec.argv)
        job_id = out.strip().split(";")[0]
        if not _JOB_ID.match(job_id):
            raise ExecutorError(f"sbatch printed no job id: {out.strip()[:200]!r}")
        return job_id

    def state(self, job_id: str) -> JobState:
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
        self._run("scancel", job_id)

    def find(self, name: str) -> Optional[str]:
        rc, out, _err = self._run("squeue", "-h", "-n", name, "-o", "%i|%T", check=False)
        for line in out.splitlines() if rc == 0 else []:
            job_id, _, word = line.partition("|")
            if map_state(word) in (QUEUED, RUNNING):
                return job_id.strip()
        return None

    def log_path(self, spec_log: Path, job_id: str) -> Path:
        return spec_log.parent / f"otf-{job_id}.log"
