"""A scan child: walks the share of a first scan it is given on stdin, with the monitor's
own walk and rules (walk.py, listing.py, the core's MovieRule), and prints the records,
problems and counts as one JSON line. Started by split.py; imports only the stdlib and
those modules. It dies with its parent: ``PR_SET_PDEATHSIG`` (Linux), and stdin's end."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Any, Dict, List, NoReturn, Optional

from emhub_worker_core.guard import MovieRule

from .listing import list_directory
from .nodes import DirNode, encode_node
from .walk import Job, Walk, WalkRules

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    except (OSError, AttributeError):  # not Linux: stdin's end still ends us
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(70)


def _read_line(fd: int) -> bytes:
    """The request line, read unbuffered (the rest of stdin is the watch below)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            os._exit(70)  # the parent went away before asking anything
        data += chunk
    return data


def _exit_when_stdin_closes() -> None:
    while os.read(0, 4096):
        pass
    os._exit(70)


def run(request: Dict[str, Any]) -> Dict[str, Any]:
    root = request["root"]
    rules = WalkRules(MovieRule(tuple(request["suffixes"])), float(request["hot_window"]),
                      int(request["max_depth"]), int(request["threads"]),
                      bool(request["adaptive"]), list_directory, os.stat)
    walk = Walk(rules, float(request["now"]))
    walk.visited = {(dev, ino) for dev, ino in request["visited"]}
    seen_before = set(walk.visited)
    holders: List[Dict[str, Optional[DirNode]]] = []
    jobs: List[Job] = []
    for path, name, depth in request["jobs"]:
        if "/" in name or path != os.path.join(os.path.dirname(path), name) \
                or not path.startswith(root.rstrip("/") + "/"):
            raise ValueError(f"job outside the root: {path!r}")
        holder: Dict[str, Optional[DirNode]] = {name: None}
        holders.append(holder)
        jobs.append(Job(holder, name, path, int(depth)))
    try:
        walk.run(jobs)
    finally:
        walk.close()
    return {"nodes": [encode_node(h.get(j.name)) for h, j in zip(holders, jobs)],
            "problems": walk.problems, "stats": list(walk.stats()),
            "visited": sorted(walk.visited - seen_before)}


def main(parent_pid: str) -> NoReturn:
    die_with_parent(int(parent_pid))
    request = json.loads(_read_line(0))
    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    answer = json.dumps(run(request), ensure_ascii=True, separators=(",", ":"))
    sys.stdout.buffer.write(answer.encode() + b"\n")
    sys.stdout.buffer.flush()
    os._exit(0)  # no interpreter shutdown under the watching thread
