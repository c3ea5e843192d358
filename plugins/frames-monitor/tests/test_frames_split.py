"""A first scan split with a scan child gives exactly what a one-process scan gives, on a
tree with hostile content: links, FIFOs, unreadable folders, control characters and bytes
that are not UTF-8 in names, paths too long to stat, folders replaced during the scan.

Both scans run in a helper process (this file run as a script); as root, with the
capabilities that bypass file permissions dropped (``setpriv``), so that a ``chmod 000``
folder is really unreadable, for the monitor and for its scan child alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

OLD = time.time() - 3 * 86400
SESSIONS = 6
LONG = "L" * 250  # 20 of these nested: a path longer than PATH_MAX (ENAMETOOLONG)


def make(path: Path, size: int = 10) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)


def deep_path(top: Path, levels: int = 20) -> None:
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(levels):
        os.mkdir(LONG, dir_fd=fd)
        inner = os.open(LONG, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(os.open("FoilHole_deep_fractions.tiff", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    os.close(fd)


def hostile_tree(root: Path) -> Path:
    """SESSIONS sessions, each with every kind of hostile content (so that the monitor's
    share and the child's both meet each kind); returns the folder outside the root."""
    outside = root.parent / "outside"
    for i in range(3):
        make(outside / f"FoilHole_out{i}_fractions.tiff", 1000)
    for s in range(SESSIONS):
        session = root / f"S{s}"
        for g in range(4):
            data = session / "Images-Disc1" / f"GridSquare_{g}" / "Data"
            for h in range(3):
                make(data / f"FoilHole_{h}_Data_fractions.tiff", 300 + h)
                make(data / f"FoilHole_{h}_Data.xml", 11)
        make(session / "Images-Disc1" / "spare" / "FoilHole_spare_fractions.tiff", 7)
        data0 = session / "Images-Disc1" / "GridSquare_0" / "Data"
        os.symlink(outside, session / "link_out")               # a link to a folder
        os.symlink(outside / "FoilHole_out0_fractions.tiff", data0 / "link_movie")
        os.symlink(root / "nowhere", session / "broken")
        os.symlink(root, data0 / "loop")
        os.mkfifo(data0 / "FoilHole_fifo_fractions.tiff")
        make(session / "bad\nname_fractions.tiff", 5)             # control characters
        make(session / "evil\x1b[31m" / "FoilHole_9_fractions.tiff", 9)
        make(session / "\x7f" / "x.dat", 3)
        raw = os.fsencode(session) + b"/\xff\xfe_Fractions.mrc"  # not UTF-8
        with open(raw, "wb") as fh:
            fh.truncate(4)
        locked = session / "locked"
        make(locked / "FoilHole_hidden_fractions.tiff", 11)
        locked.chmod(0)
        deep_path(session)
    make(root / "README.txt", 123)
    os.symlink(outside, root / "top_link")
    return outside


def snapshot(scanner: Any, result: Any) -> dict[str, Any]:
    from emworker_frames_monitor.nodes import encode_node

    return {"entries": [e.as_event() for e in result.entries],
            "stats": [result.stats.dirs_statted, result.stats.dirs_listed,
                      result.stats.files_statted],
            "problems": result.problems,
            "records": {name: encode_node(node) for name, node in scanner._top.items()}}


def compare(root: str, outside: str) -> dict[str, Any]:
    """Both scans of ``root``, the split one first. When the child starts, three of the
    folders it is given (their names listed by the monitor a moment ago) are replaced: by
    a link out, by another folder, by nothing. The one-process scan meets the same swaps at
    the same point: right after it lists their parent folder. All is put back after each."""
    import emworker_frames_monitor.scanner as scanner_module
    from emworker_frames_monitor.listing import list_directory
    from emworker_frames_monitor.split import ChildScan

    from emhub_worker_core.guard import MovieRule

    base = os.path.dirname(root)
    replacement = os.path.join(base, "replacement")
    make(Path(replacement) / "FoilHole_new_fractions.tiff", 77)
    statted: list[str] = []
    targets: list[str] = []
    mtimes: dict[str, int] = {}

    def recording_stat(path: Any, **kwargs: Any) -> os.stat_result:
        statted.append(os.fspath(path))
        return os.stat(path, **kwargs)

    def keep_mtimes(folders: list[str]) -> None:
        """First call notes the mtimes, the next puts them back: records keep each folder's
        mtime, and a swap must not make the order of the stats show."""
        for folder in folders:
            if folder in mtimes:
                os.utime(folder, ns=(mtimes[folder], mtimes.pop(folder)))
            else:
                mtimes[folder] = os.stat(folder).st_mtime_ns

    def swap(paths: list[str], back: bool = False) -> None:
        touched = sorted({os.path.dirname(p) for p in paths})  # a moved folder keeps its own
        keep_mtimes(touched)
        for path in paths:
            n = targets.index(path)  # its role: 0 a link, 1 another folder, 2 gone
            aside = os.path.join(base, f"aside-{n}")
            if not back:
                os.rename(path, aside)
                if n == 0:
                    os.symlink(outside, path)
                elif n == 1:
                    os.rename(replacement, path)
            else:
                if n == 0:
                    os.unlink(path)
                elif n == 1:
                    os.rename(path, replacement)
                os.rename(aside, path)
        keep_mtimes(touched)

    class SwappingChild(ChildScan):
        def __init__(self, root: str, jobs: list[Any], *args: Any, **kwargs: Any) -> None:
            targets[:] = [j.path for j in jobs if j.name.startswith(("GridSquare", "Images"))
                          ][:3]
            swap(targets)
            super().__init__(root, jobs, *args, **kwargs)

    @contextlib.contextmanager
    def swapping(path: str) -> Iterator[Any]:
        with list_directory(path) as items:
            yield items
        mine = [t for t in targets if os.path.dirname(t) == path]
        if mine:
            swap(mine)

    out: dict[str, Any] = {}
    scanner_module.ChildScan = SwappingChild  # type: ignore[misc]
    for name, processes in (("two", 2), ("one", 1)):
        statted.clear()
        scanner = scanner_module.TreeScanner(root, MovieRule(), processes=processes,
                                             split_at=2, listdir=swapping, stat=recording_stat)
        result = scanner.scan()
        swap(targets, back=True)
        out[name] = snapshot(scanner, result)
        out[name + "_processes"] = result.processes
        out[name + "_child_problem"] = result.child_problem
        out[name + "_statted_here"] = list(statted)
    out["swapped"] = targets
    return out


def movies_below(path: str) -> int:
    return sum(name.endswith("_fractions.tiff") and "fifo" not in name and "\n" not in name
               for _d, _s, names in os.walk(path) for name in names)


def run_compare(root: Path, outside: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, str(root), str(outside)]
    if os.geteuid() == 0:  # root reads a chmod 000 folder: drop what lets it
        cmd = [shutil.which("setpriv") or "setpriv",
               "--bounding-set=-dac_override,-dac_read_search", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_split_scan_equals_one_process_scan_on_a_hostile_tree(tmp_path: Path) -> None:
    root = tmp_path / "frames"
    outside = hostile_tree(root)
    got = run_compare(root, outside)
    assert got["one_processes"] == 1
    assert got["two_processes"] == 2, got["two_child_problem"]
    assert got["two"] == got["one"]
    # The child did part of the work: folders the monitor never statted itself, among them
    # unreadable ones, too deep ones and ones replaced after the monitor learnt their names.
    here = set(got["two_statted_here"])
    for kind in ("locked", LONG):
        assert {f"{root}/S{s}/{kind}" for s in range(SESSIONS)} - here, kind
    assert len(got["swapped"]) == 3 and not set(got["swapped"]) & here, got["swapped"]
    # And what both saw is right, not just equal.
    problems = got["one"]["problems"]
    entries = {e["name"]: e for e in got["one"]["entries"]}
    assert set(entries) == {"README.txt"} | {f"S{s}" for s in range(SESSIONS)}
    for s in range(SESSIONS):
        assert f"{root}/S{s}/locked: Permission denied" in problems
        assert any(p.startswith(f"{root}/S{s}/{LONG}/") and "too long" in p for p in problems)
        # 4 squares x 3 movies, the spare one, the .mrc with a non-UTF-8 name, evil\x1b's
        # (the folder's name does not matter); not the one with \n in its name, nor links,
        # the FIFO, anything outside; minus what the swaps took away, plus the new folder.
        lost = sum(movies_below(p) for p in got["swapped"] if p.startswith(f"{root}/S{s}/"))
        gained = sum(1 for p in got["swapped"][1:2] if p.startswith(f"{root}/S{s}/"))
        assert entries[f"S{s}"]["movies"] == 4 * 3 + 1 + 1 + 1 - lost + gained, s
    assert not any("outside" in p or "loop" in p for p in problems), problems


if __name__ == "__main__":
    print(json.dumps(compare(sys.argv[1], sys.argv[2])))
