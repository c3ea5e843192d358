"""Expand Slurm's compressed host lists (``gpu[02-03,07],cpu1``) without calling scontrol."""

from __future__ import annotations

import re

_BRACKET = re.compile(r"\[([^\]]*)\]")


def split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in (s.strip() for s in parts) if p]


def _expand_range(spec: str) -> list[str]:
    values: list[str] = []
    for item in spec.split(","):
        low, _, high = item.partition("-")
        if not high:
            values.append(low)
            continue
        width = len(low)  # zero padding is kept: 02-10 -> 02, 03, ... 10
        values.extend(str(n).zfill(width) for n in range(int(low), int(high) + 1))
    return values


def _expand_one(name: str) -> list[str]:
    match = _BRACKET.search(name)
    if match is None:
        return [name]
    head, tail = name[:match.start()], name[match.end():]
    return [head + value + rest for value in _expand_range(match.group(1))
            for rest in _expand_one(tail)]


def expand_hostlist(text: str) -> list[str]:
    """All host names of a Slurm host list, in order; ``""`` and ``(null)`` give none."""
    if not text or text.startswith("("):
        return []
    return [host for part in split_top_level(text) for host in _expand_one(part)]
