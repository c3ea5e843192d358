"""What is handed to an executor (the rendered argv and where it runs) and what is read
back from the job's log on failure."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from emhub_worker_core.guard import read_tail

from .executors.base import JobSpec
from .feed import FEED_NAME
from .folder import PARAMS_NAME, otf_dir
from .inputs import OtfTarget

LOG_TAIL_CHARS = 4000  # an event value, and a field of extra.otf: keep it small


def _values(target: OtfTarget, gain: str) -> dict[str, str]:
    otf = target.otf_path
    return {"session_id": str(target.session_id), "session_name": target.session_name,
            "otf_path": str(otf), "raw_path": str(target.raw_path),
            "movies_list": str(otf / FEED_NAME), "params_file": str(otf / PARAMS_NAME),
            "gain": gain, "workflow": target.workflow.name, "microscope": target.microscope}


def check_values(target: OtfTarget) -> None:
    """Render the argv once before anything is made: a session value that would become an
    option (``{session_name}`` = ``--wrap=...``) is refused while nothing exists yet. The
    gain is a path in the OTF folder (or empty), so it can never be an option."""
    target.workflow.render(_values(target, str(target.otf_path / "gain")))
    target.workflow.render(_values(target, ""))


def build_spec(target: OtfTarget, job_name: str, gain: str,
               env: Mapping[str, str]) -> JobSpec:
    """The workflow's argv with the session's values (checked by :meth:`Workflow.render`)."""
    argv = target.workflow.render(_values(target, gain))
    return JobSpec(name=job_name, argv=tuple(argv), workdir=target.otf_path,
                   log_path=target.otf_path / "otf-submit.log",
                   options=target.workflow.options, env=dict(env))


def log_tail(target: OtfTarget, path: str, lines: int) -> str:
    """The last ``lines`` lines of the job's log in the OTF folder ('' when there is none,
    or it is not a regular file there: a link is never read)."""
    log = Path(path)
    if not path or log.parent != target.otf_path or lines <= 0:
        return ""
    try:
        with otf_dir(target) as fd:
            data = read_tail(fd, log.name, LOG_TAIL_CHARS * 4)
    except OSError:
        return ""
    kept = data.decode("utf-8", errors="replace").split("\n")
    if kept and kept[-1] == "":
        kept.pop()
    return "\n".join(kept[-lines:])[-LOG_TAIL_CHARS:]
