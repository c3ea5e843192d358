"""Entry point of the ``session-transfer`` plugin. Handlers are named, not imported:
listing plugins must not pay for them."""

from __future__ import annotations

from typing import Mapping

from emhub_worker_core import RegisterTask, hookimpl

HANDLERS = "emworker_session_transfer.handler"

ABOUT = {
    "frames_root": "where EPU writes; else EMhub's sessions config raw.root_frames",
    "raw_root": "where sessions are moved to; else EMhub's sessions config raw.root",
    "layout": "the destination folder of a session, from {group}, {microscope}, ...",
    "quiet_seconds": "a file is settled after this long unchanged (default 60)",
    "workers": "copies running at once (default 4)",
    "batch": "files per group: one sync, one manifest record, one EMhub update (default 128)",
    "chunk_kib": "copy buffer per copier in KiB (default 1024)",
    "verify": "storage (default), reread or size: how a copy is checked before the source goes",
    "durable_min_bytes": "smaller files share one filesystem sync per batch",
    "period": "seconds between scans when idle (default 60)",
    "stop_after_idle": "no new file for this long: the session is over (default 3 days)",
    "stop_after": "hard cap from the first file (default 5 days)",
    "retry_seconds": "first wait after a destination error; doubles (default 30)",
    "retry_max_seconds": "longest wait between destination retries (default 900)",
    "movie_suffixes": "file name endings that count as movies",
    "checksum": "blake3 (default) or sha256: the digest recorded and verified per file",
}


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("session-transfer", f"{HANDLERS}:TransferHandler")
    # Stock EMhub creates "session" tasks and picks the job with args.action.
    register("session", f"{HANDLERS}:TransferHandler", action="transfer")
    register("session", f"{HANDLERS}:MonitorHandler", action="monitor")


@hookimpl
def emworker_plugin_settings() -> Mapping[str, str]:
    from .settings import TransferSettings  # its fields are the keys, so this cannot drift

    return {key: ABOUT.get(key, "(undocumented)")
            for key in TransferSettings.__dataclass_fields__}
