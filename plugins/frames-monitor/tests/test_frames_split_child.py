"""A scan child that cannot start, dies, answers garbage or is stopped: the first scan still
completes, with exactly the one-process result (nothing lost, nothing made up), and the
child never outlives the scan nor the monitor's process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import emworker_frames_monitor.scanner as scanner_module
import pytest
from emworker_frames_monitor.nodes import BadRecord, decode_node, encode_node
from emworker_frames_monitor.scanner import ScanCancelled, TreeScanner
from emworker_frames_monitor.split import ChildScan

from emhub_worker_core.guard import MovieRule


def tree(root: Path, sessions: int = 8, squares: int = 6, files: int = 20,
         name: str = "GridSquare") -> None:
    for s in range(sessions):
        for g in range(squares):
            data = root / f"S{s}" / "Images-Disc1" / f"{name}_{g}" / "Data"
            data.mkdir(parents=True)
            for f in range(files):
                with open(data / f"FoilHole_{f}_fractions.tiff", "wb") as fh:
                    fh.truncate(f + 1)


def outcome(scanner: TreeScanner, result: Any) -> tuple[Any, ...]:
    return (result.entries, result.stats, result.problems,
            {name: encode_node(node) for name, node in scanner._top.items()})


def one_process(root: Path) -> tuple[Any, ...]:
    scanner = TreeScanner(root, MovieRule(), processes=1)
    return outcome(scanner, scanner.scan())


def gone(pid: int) -> bool:
    """Reaped, or dead and waiting for a reaper (a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


class Children:
    """Patches the scanner's ChildScan; ``then(child)`` runs once it has started."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, then: Any) -> None:
        self.pids: list[int] = []
        outer = self

        class Patched(ChildScan):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                outer.pids.append(self.pid)
                then(self)

        monkeypatch.setattr(scanner_module, "ChildScan", Patched)


def test_split_scan_is_used_and_equals_one_process(tmp_path: Path) -> None:
    tree(tmp_path)
    scanner = TreeScanner(tmp_path, MovieRule(), hot_window=0)
    result = scanner.scan()
    assert (result.processes, result.child_problem) == (2, "")
    assert outcome(scanner, result) == one_process(tmp_path)
    rescan = scanner.scan()  # rescans stay in this process, as before
    assert rescan.processes == 1 and rescan.stats.dirs_listed == 0


def test_small_tree_never_starts_a_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    tree(tmp_path, sessions=2, squares=2)  # fewer than SPLIT_AT folders to deal out
    started = Children(monkeypatch, lambda child: None)
    result = TreeScanner(tmp_path, MovieRule()).scan()
    assert result.processes == 1 and started.pids == []


@pytest.mark.parametrize("when", ["at once", "while the monitor waits for it"])
def test_child_killed_its_share_is_scanned_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                when: str) -> None:
    tree(tmp_path)

    def kill(child: ChildScan) -> None:
        if when == "at once":
            os.kill(child.pid, signal.SIGKILL)
        else:  # frozen so that it cannot answer first, killed once we wait
            os.kill(child.pid, signal.SIGSTOP)
            threading.Timer(0.3, os.kill, (child.pid, signal.SIGKILL)).start()

    children = Children(monkeypatch, kill)
    scanner = TreeScanner(tmp_path, MovieRule())
    result = scanner.scan()
    assert len(children.pids) == 1 and gone(children.pids[0])
    assert result.processes == 1 and "ended with code -9" in result.child_problem
    assert outcome(scanner, result) == one_process(tmp_path)


GARBAGE = {
    "truncated answer": 'printf \'{"nodes": [[1, 2\'',
    "answer for other jobs": 'echo \'{"nodes": [], "problems": [], "stats": [0, 0, 0], '
                             '"visited": []}\'',
    "record of the wrong shape": 'echo \'{"nodes": [[1, 2, 3]], "problems": [], '
                                 '"stats": [0, 0, 0], "visited": []}\'',
    "exit code 3": "echo 'Traceback: boom' >&2; exit 3",
}


def test_a_record_naming_anything_but_one_folder_is_refused() -> None:
    leaf = [1, 0, 0, 0, 0.0, True, None]
    assert decode_node([1, 0, 0, 0, 0.0, True, {"GridSquare_1": leaf, "\udcff": None}])
    for name in ("..", ".", "", "a/b", "/etc", "x\0y"):
        with pytest.raises(BadRecord, match="not a folder name"):
            decode_node([1, 0, 0, 0, 0.0, True, {"ok": leaf, name: leaf}])


@pytest.mark.parametrize("case", [*GARBAGE, "no such interpreter"])
def test_unusable_child_its_share_is_scanned_here(tmp_path: Path, case: str) -> None:
    root = tmp_path / "frames"
    tree(root)
    python = str(tmp_path / "python")
    if case in GARBAGE:
        Path(python).write_text(f"#!/bin/sh\n{GARBAGE[case]}\n")
        os.chmod(python, 0o755)
    scanner = TreeScanner(root, MovieRule(), python=python)
    result = scanner.scan()
    assert result.processes == 1 and result.child_problem, case
    if case == "exit code 3":
        assert "ended with code 3: Traceback: boom" in result.child_problem
    assert outcome(scanner, result) == one_process(root)


def test_stop_kills_the_child_and_cancels_the_scan(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tree(tmp_path)
    stop = threading.Event()

    def stop_now(child: ChildScan) -> None:
        os.kill(child.pid, signal.SIGSTOP)  # still running when the stop comes
        stop.set()

    children = Children(monkeypatch, stop_now)
    scanner = TreeScanner(tmp_path, MovieRule(), stop=stop)
    with pytest.raises(ScanCancelled):
        scanner.scan()
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left behind
        os.kill(children.pids[0], 0)
    stop.clear()
    monkeypatch.undo()
    result = scanner.scan()  # nothing half-kept: the next scan is a whole first scan
    assert result.processes == 2 and outcome(scanner, result) == one_process(tmp_path)


PARENT = """
import os, sys, time
import emworker_frames_monitor.scanner as scanner_module
from emworker_frames_monitor.split import ChildScan
from emhub_worker_core.guard import MovieRule

class Blocking(ChildScan):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        time.sleep(0.5)  # the child is past its start-up (PR_SET_PDEATHSIG set)
        print(self.pid, flush=True)
        time.sleep(60)   # and this process never reads its answer

scanner_module.ChildScan = Blocking
scanner_module.TreeScanner(sys.argv[1], MovieRule()).scan()
"""


def test_child_dies_with_the_monitor_process(tmp_path: Path) -> None:
    # 480 names of 200 characters: an answer larger than a pipe holds, so the child waits
    tree(tmp_path, squares=60, files=2, name="G" * 200)
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not gone(child)
        os.kill(child, signal.SIGSTOP)  # frozen: only a signal from outside can end it
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while not gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gone(child), "the scan child outlived the monitor's process"
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
        if child and not gone(child):
            os.kill(child, signal.SIGKILL)


def test_task_stop_during_the_first_scan_kills_the_child(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """Through the handler: the host's stop (the task's stop event) during a split first
    scan kills the child; no event is sent for the unfinished scan."""
    from emworker_frames_monitor.handler import FramesMonitorHandler

    from emhub_worker_core.testing import make_context

    tree(tmp_path)
    events: list[Any] = []
    context = make_context({"name": "frames", "args": {"root": str(tmp_path)}},
                           config={"root": str(tmp_path)}, events=events)

    def host_stops(child: ChildScan) -> None:
        os.kill(child.pid, signal.SIGSTOP)
        context.stop_event.set()

    children = Children(monkeypatch, host_stops)
    handler = FramesMonitorHandler(context)
    handler.setup()
    handler.process()
    assert events == [] and len(children.pids) == 1
    with pytest.raises(ProcessLookupError):
        os.kill(children.pids[0], 0)
    config_off = make_context({"name": "frames", "args": {"root": str(tmp_path)}},
                              config={"root": str(tmp_path), "scan_processes": 1})
    one = FramesMonitorHandler(config_off)
    one.setup()
    assert one.scanner.processes == 1 and handler.scanner.processes == 2


def test_folder_entered_by_both_processes_means_one_process_scan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bind mount can show one folder in both shares: the one-process scan skips its
    second sighting, so a split scan that meets it is made again in one process."""
    tree(tmp_path)
    root = os.stat(tmp_path)

    class Overlapping(ChildScan):
        def collect(self, stop: Any = None) -> Any:
            answer = super().collect(stop)  # as if the child had entered the root too
            return answer._replace(visited=answer.visited | {(root.st_dev, root.st_ino)})

    monkeypatch.setattr(scanner_module, "ChildScan", Overlapping)
    scanner = TreeScanner(tmp_path, MovieRule())
    result = scanner.scan()
    assert result.processes == 1 and outcome(scanner, result) == one_process(tmp_path)
