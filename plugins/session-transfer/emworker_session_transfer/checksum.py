"""Checksum algorithms by name: what the copier computes and the manifest records.

BLAKE3 is the default: a cryptographic hash about 3.5x faster than sha256 on one core
here, which matters on a 2-core worker hashing every byte twice (copy, verify). sha256
stays available, and records made with it (old manifests) still verify.
"""

from __future__ import annotations

import hashlib
import os
from typing import Callable, Protocol

import blake3


class Hasher(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> object: ...

    def hexdigest(self) -> str: ...


ALGORITHMS: dict[str, Callable[[], Hasher]] = {
    "blake3": blake3.blake3,
    "sha256": hashlib.sha256,
}
DEFAULT = "blake3"


def new_hasher(algorithm: str) -> Hasher:
    try:
        return ALGORITHMS[algorithm]()
    except KeyError:
        raise ValueError(f"unknown checksum algorithm {algorithm!r}; "
                         f"known: {', '.join(sorted(ALGORITHMS))}") from None


def file_digest(fd: int, algorithm: str, buffer: bytearray) -> tuple[str, int]:
    """(hex digest, bytes read) of the open file ``fd`` from offset 0, via ``buffer``."""
    hasher = new_hasher(algorithm)
    view = memoryview(buffer)
    offset = 0
    try:
        while True:
            got = os.preadv(fd, [view], offset)
            if got == 0:
                return hasher.hexdigest(), offset
            hasher.update(view[:got])
            offset += got
    finally:
        view.release()
