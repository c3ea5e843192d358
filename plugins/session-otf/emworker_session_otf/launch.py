"""What is handed to an executor (the rendered argv and where it runs) and what is read
back from the job's log on failure."""

from __future__ import annotations

from collections import deque
from pathlib import Path

from .executors.base import JobSpec
from .folder import PARAMS_NAME
from .inputs import OtfTarget

LOG_TAIL_CHARS = 4000  # an event value, and a field of extra.otf: keep it small


def build_spec(target: OtfTarget, job_name: str, movies_list: Path) -> JobSpec:
    """The workflow's argv with the session's values (checked by :meth:`Workflow.render`)."""
    otf = target.otf_path
    gains = sorted(p for p in otf.iterdir() if p.is_file() and "gain" in p.name.lower())
    values = {"session_id": str(target.session_id), "session_name": target.session_name,
              "otf_path": str(otf), "raw_path": str(target.raw_path),
              "movies_list": str(movies_list), "params_file": str(otf / PARAMS_NAME),
              "gain": str(gains[0]) if gains else "", "workflow": target.workflow.name,
              "microscope": target.microscope}
    argv = target.workflow.render(values)
    return JobSpec(name=job_name, argv=tuple(argv), workdir=otf,
                   log_path=otf / "otf-submit.log", options=target.workflow.options)


def log_tail(path: str, lines: int) -> str:
    """The last ``lines`` lines of the job's log ('' when there is none)."""
    kept: deque[str] = deque(maxlen=lines)
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            kept.extend(line.rstrip("\n") for line in fh)
    except OSError:
        return ""
    return "\n".join(kept)[-LOG_TAIL_CHARS:]
