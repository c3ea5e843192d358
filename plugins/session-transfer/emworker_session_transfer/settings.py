"""The plugin's configuration (``[plugins.session-transfer]``), checked once per task."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping

from emhub_worker_core import ConfigError
from emhub_worker_core.guard import DEFAULT_MOVIE_SUFFIXES, MovieRule

from .checksum import ALGORITHMS
from .checksum import DEFAULT as DEFAULT_CHECKSUM

DEFAULT_LAYOUT = "{group}/{microscope}/{year}/raw/EPU/{user}/{date}_{microscope}_{short_name}"
DAY = 86400.0


@dataclass(frozen=True)
class TransferSettings:
    frames_root: str = ""            # else EMhub config sessions: raw.root_frames
    raw_root: str = ""               # else EMhub config sessions: raw.root
    layout: str = DEFAULT_LAYOUT
    quiet_seconds: float = 60.0      # a file is settled after this long unchanged
    workers: int = 4                 # copies running at once
    batch: int = 128                 # files per group: one sync, one record, one update
    chunk_kib: int = 1024            # copy buffer per copier (stays in the CPU caches)
    # "storage": the written file is synced, its cached pages dropped and read back, so the
    # hash is of what storage returns; "reread": read back through the page cache (catches
    # bad copy code, not the disk); "size": size only (the checksum is still recorded).
    verify: str = "storage"
    checksum: str = DEFAULT_CHECKSUM  # "blake3" or "sha256"; recorded by name per file
    durable_min_bytes: int = 1 << 20  # smaller files: one filesystem sync per batch
    period: float = 60.0             # seconds between scans when idle
    stop_after_idle: float = 3 * DAY  # no new file for this long: the session is over
    stop_after: float = 5 * DAY      # hard cap from the first file
    retry_seconds: float = 30.0      # first wait after a destination error (doubles)
    retry_max_seconds: float = 900.0
    movie_suffixes: tuple[str, ...] = DEFAULT_MOVIE_SUFFIXES

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TransferSettings:
        known = set(cls.__dataclass_fields__)
        unknown = set(config) - known
        if unknown:
            raise ConfigError(f"[plugins.session-transfer]: unknown key(s) {sorted(unknown)}")
        values: dict[str, Any] = {}
        for key, value in config.items():
            default = getattr(cls, key)
            try:
                if isinstance(default, tuple):
                    values[key] = tuple(str(v) for v in value)
                elif isinstance(default, bool):
                    values[key] = bool(value)
                else:
                    values[key] = type(default)(value)
            except (TypeError, ValueError):
                raise ConfigError(f"[plugins.session-transfer] {key}: bad value {value!r}") \
                    from None
        settings = cls(**values)
        if settings.verify not in ("reread", "storage", "size"):
            raise ConfigError("[plugins.session-transfer] verify: 'reread', 'storage' or 'size'")
        if settings.checksum not in ALGORITHMS:
            raise ConfigError("[plugins.session-transfer] checksum: "
                              + " or ".join(repr(a) for a in sorted(ALGORITHMS)))
        try:  # the one movie rule (moved and counted), as frames-monitor counts them
            _ = settings.movie_rule
        except ValueError as exc:
            raise ConfigError(f"[plugins.session-transfer] {exc}") from None
        if settings.workers < 1 or settings.batch < 1 or settings.chunk_kib < 4:
            raise ConfigError("[plugins.session-transfer]: workers/batch >= 1, chunk_kib >= 4")
        return settings

    @cached_property
    def movie_rule(self) -> MovieRule:
        return MovieRule(self.movie_suffixes)

    def is_movie(self, rel_path: str) -> bool:
        return self.movie_rule(rel_path)
