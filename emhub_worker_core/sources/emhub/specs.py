"""What a worker tells EMhub about its machine (``connect_worker`` stores it in config:hosts).

The keys ``CPUs``, ``MEM`` (GiB) and ``GPUs`` (``{name: {"count", "memory"}}``) are the
ones the stock EMhub worker sends and its Workers page shows; ``host``, ``python`` and
``os`` are added. GPUs come from ``nvidia-smi`` when it is installed.
"""

from __future__ import annotations

import logging
import os
import platform
import socket
from typing import Any, Mapping

from ...contract.commands import CommandRunner, Runner
from ...contract.errors import CommandError

log = logging.getLogger("emworker.emhub")


def memory_gib() -> int | None:
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * page_size / 2**30) if pages > 0 and page_size > 0 else None


def cpu_count() -> int | None:
    try:
        return len(os.sched_getaffinity(0))  # what this process may use (cgroups, taskset)
    except AttributeError:
        return os.cpu_count()


def gpus(runner: Runner) -> dict[str, dict[str, Any]]:
    """``{gpu name: {"count": n, "memory": "24576 MiB"}}``; empty without nvidia-smi."""
    try:
        result = runner.run(["nvidia-smi", "--query-gpu=name,memory.total",
                             "--format=csv,noheader"], timeout=15)
    except CommandError as exc:  # not installed, no driver, no GPU: none to report
        log.debug("no GPU information: %s", exc)
        return {}
    found: dict[str, dict[str, Any]] = {}
    for line in result.stdout.splitlines():
        name, _, memory = (part.strip() for part in line.rpartition(","))
        if not name:
            continue
        entry = found.setdefault(name, {"count": 0, "memory": memory})
        entry["count"] += 1
    return found


def machine_specs(runner: Runner | None = None) -> dict[str, Any]:
    """Facts about this machine, each left out when it cannot be found."""
    host, fqdn = socket.gethostname(), socket.getfqdn()
    specs: dict[str, Any] = {
        "host": host,
        "fqdn": fqdn if fqdn not in (host, "localhost") else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "CPUs": cpu_count(),
        "MEM": memory_gib(),
        "GPUs": gpus(runner or CommandRunner()),
    }
    return {k: v for k, v in specs.items() if v is not None}


def worker_specs(host_specs: Mapping[str, Any], runner: Runner | None = None) -> dict[str, Any]:
    """The host's specs (emworker and plugin versions, task names) plus the machine's."""
    return {**machine_specs(runner), **dict(host_specs)}
