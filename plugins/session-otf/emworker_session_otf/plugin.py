"""Entry point of the ``session-otf`` plugin. The handler is named, not imported: listing
plugins must not pay for it."""

from __future__ import annotations

from typing import Mapping

from emhub_worker_core import RegisterTask, hookimpl

HANDLER = "emworker_session_otf.handler:OtfHandler"

ABOUT = {
    "otf_root": "where OTF folders are made; else EMhub's sessions config otf.root",
    "raw_root": "where the raw sessions are; else EMhub's sessions config raw.root",
    "state_dir": "job records (one job per session across restarts)",
    "workflows": "workflow definitions (argv, executor, options); override EMhub's",
    "default_workflow": "the workflow of a session that names none",
    "min_movies": "settled movies before the job is submitted (default 16)",
    "quiet_seconds": "a movie is settled after this long unchanged (default 60)",
    "end_after_idle": "no new movie for this long: end marker in the feed (default 1800)",
    "period": "seconds between two steps (default 30)",
    "movie_suffixes": "file name endings that count as movies",
    "gain": "glob of the gain reference, {microscope} filled in",
    "retries": "resubmissions after a failed job (default 0)",
    "log_tail_lines": "lines of the job log reported on failure (default 20)",
    "job_gone_grace": "seconds a job may be unknown to the scheduler before 'failed'",
    "command_timeout": "seconds each scheduler command may take (default 30)",
    "progress_maxlen": "history kept for this task's events (default 20)",
    "job_env": "variables a job gets from the worker's environment (an allow-list)",
    "emhub_defines_programs": "let EMhub's config:sessions set a workflow's argv, executor "
                              "and user (default false: local configuration only)",
}


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("session-otf", HANDLER)
    # Stock EMhub creates "session" tasks and picks the job with args.action.
    register("session", HANDLER, action="otf")


@hookimpl
def emworker_plugin_settings() -> Mapping[str, str]:
    from .settings import OtfSettings  # its fields are the keys, so this cannot drift

    return {key: ABOUT.get(key, "(undocumented)") for key in OtfSettings.__dataclass_fields__}
