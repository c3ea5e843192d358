"""The plugin's settings (``[plugins.session-transfer]``), declared once: the core reads
and checks them by this declaration (``emworker check`` shows it)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from emhub_worker_core import setting
from emhub_worker_core.guard import DEFAULT_MOVIE_SUFFIXES, MovieRule, movie_suffixes

from .checksum import ALGORITHMS
from .checksum import DEFAULT as DEFAULT_CHECKSUM

DEFAULT_LAYOUT = "{group}/{microscope}/{year}/raw/EPU/{user}/{date}_{microscope}_{short_name}"
DAY = 86400.0


@dataclass(frozen=True)
class TransferSettings:
    frames_root: str = setting("", "where EPU writes; else EMhub's sessions config "
                                   "raw.root_frames")
    raw_root: str = setting("", "where sessions are moved to; else EMhub's sessions config "
                                "raw.root")
    layout: str = setting(DEFAULT_LAYOUT, "the destination folder of a session, from "
                                          "{group}, {microscope}, ... (also {session_id})")
    quiet_seconds: float = setting(60.0, "a file is settled after this long unchanged",
                                   minimum=0)
    workers: int = setting(4, "copies running at once", minimum=1)
    batch: int = setting(128, "files per group: one sync, one manifest record, one EMhub "
                              "update", minimum=1)
    chunk_kib: int = setting(1024, "copy buffer per copier in KiB (stays in the CPU caches)",
                             minimum=4)
    # "storage": the written file is synced, its cached pages dropped and read back, so the
    # hash is of what storage returns; "reread": read back through the page cache (catches
    # bad copy code, not the disk); "size": size only (the checksum is still recorded).
    verify: str = setting("storage", "how a copy is checked before the source goes",
                          choices=("storage", "reread", "size"))
    checksum: str = setting(DEFAULT_CHECKSUM, "the digest recorded and verified per file",
                            choices=tuple(sorted(ALGORITHMS)))
    durable_min_bytes: int = setting(1 << 20, "smaller files share one filesystem sync per "
                                              "batch", minimum=0)
    period: float = setting(60.0, "seconds between scans when idle", minimum=0)
    stop_after_idle: float = setting(3 * DAY, "no new file for this long: the session is over",
                                     minimum=0)
    stop_after: float = setting(5 * DAY, "hard cap from the first file", minimum=0)
    retry_seconds: float = setting(30.0, "first wait after a destination error; doubles",
                                   minimum=0)
    retry_max_seconds: float = setting(900.0, "longest wait between destination retries",
                                       minimum=0)
    movie_suffixes: tuple[str, ...] = setting(DEFAULT_MOVIE_SUFFIXES, "file name endings "
                                              "that count as movies", convert=movie_suffixes)

    @cached_property
    def movie_rule(self) -> MovieRule:
        return MovieRule(self.movie_suffixes)

    def is_movie(self, rel_path: str) -> bool:
        return self.movie_rule(rel_path)
