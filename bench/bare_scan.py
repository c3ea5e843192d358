"""The least a Python scan can do, shared by the frames benches (imports only ``os``, so
a child interpreter started with ``-S`` runs it too)."""

from __future__ import annotations

import os


def bare_scan(*roots: str) -> int:
    """List every folder under ``roots``, ``lstat`` every other entry; total bytes."""
    size, todo = 0, list(roots)
    while todo:
        with os.scandir(todo.pop()) as listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                else:
                    size += entry.stat(follow_symlinks=False).st_size
    return size
