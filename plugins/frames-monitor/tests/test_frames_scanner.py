"""The scanner on small real trees: what it sees, and the work it does to see it."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from emworker_frames_monitor.scanner import RootUnavailable, TreeScanner, list_directory

from emhub_worker_core.guard import MovieRule

OLD = time.time() - 3 * 86400


def make(path: Path, size: int = 10, mtime: float = OLD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)
    os.utime(path, (mtime, mtime))
    return path


def age_tree(root: Path, mtime: float = OLD) -> None:
    """Make every folder look quiet (as at the end of a session)."""
    for dirpath, _dirs, _files in os.walk(root, topdown=False):
        os.utime(dirpath, (mtime, mtime))


def epu_session(root: Path, name: str = "S00301_grid1", movies: int = 3) -> Path:
    session = root / name
    make(session / "EpuSession.dm", 50_000)
    make(session / "Krios01_gain_20240301.mrc", 90_000_000)
    data = session / "Images-Disc1" / "GridSquare_1" / "Data"
    for i in range(movies):
        make(data / f"FoilHole_{i}_Data_1_2_20240301_1020{i:02d}.xml", 11_000)
        make(data / f"FoilHole_{i}_Data_1_2_20240301_1020{i:02d}_fractions.tiff", 300_000_000)
    age_tree(root)
    return data


def entries(scanner: TreeScanner) -> dict[str, Any]:
    return {e.name: e for e in scanner.scan().entries}


def test_epu_tree_totals_and_loose_files(tmp_path: Path) -> None:
    epu_session(tmp_path)
    make(tmp_path / "README_frames.txt", 123, mtime=OLD + 5)
    make(tmp_path / "S00302_eer" / "a" / "b" / "FoilHole_9_EER.eer", 7, mtime=OLD + 9)
    make(tmp_path / ".FoilHole_1_fractions.tiff.AbC123", 5)  # hidden temp file
    found = entries(TreeScanner(tmp_path, MovieRule()))
    s1 = found["S00301_grid1"]
    assert (s1.type, s1.files, s1.movies) == ("dir", 8, 3)
    assert s1.size == 50_000 + 90_000_000 + 3 * (11_000 + 300_000_000)
    assert s1.ts == pytest.approx(OLD)
    eer = found["S00302_eer"]
    assert (eer.files, eer.movies, eer.size, eer.ts) == (1, 1, 7, pytest.approx(OLD + 9))
    readme = found["README_frames.txt"]
    assert (readme.type, readme.size, readme.ts) == ("file", 123, pytest.approx(OLD + 5))
    assert readme.as_event() == {"name": "README_frames.txt", "type": "file", "size": 123,
                                 "ts": readme.ts, "movies": 0}
    assert found[".FoilHole_1_fractions.tiff.AbC123"].type == "file"


def test_nested_addition_is_seen_and_unchanged_rescan_lists_nothing(tmp_path: Path) -> None:
    data = epu_session(tmp_path)
    scanner = TreeScanner(tmp_path, MovieRule(), hot_window=60)
    first = scanner.scan()
    assert first.stats.dirs_listed == 4  # session, Images-Disc1, GridSquare_1, Data
    quiet = scanner.scan()
    # Nothing changed: one stat per directory, no listing, no file stat.
    assert (quiet.stats.dirs_statted, quiet.stats.dirs_listed, quiet.stats.files_statted) \
        == (4, 0, 0)
    assert quiet.entries == first.entries
    # A movie written three levels down: the top folder's own mtime does not change.
    top_mtime = os.stat(tmp_path / "S00301_grid1").st_mtime_ns
    make(data / "FoilHole_7_Data_1_2_new_fractions.tiff", 1000, mtime=time.time())
    assert os.stat(tmp_path / "S00301_grid1").st_mtime_ns == top_mtime
    after = scanner.scan()
    s1 = {e.name: e for e in after.entries}["S00301_grid1"]
    assert s1.movies == 4 and s1.files == 9
    assert after.stats.dirs_listed == 1  # only Data was read again


def test_growth_in_hot_directory_is_seen(tmp_path: Path) -> None:
    data = epu_session(tmp_path, movies=1)
    movie = make(data / "FoilHole_5_growing_fractions.tiff", 100, mtime=time.time())
    scanner = TreeScanner(tmp_path, MovieRule(), hot_window=300)
    before = entries(scanner)["S00301_grid1"].size
    data_mtime = os.stat(data).st_mtime_ns
    with open(movie, "ab") as fh:
        fh.write(b"x" * 5000)
    assert os.stat(data).st_mtime_ns == data_mtime  # growth leaves the folder's mtime alone
    assert entries(scanner)["S00301_grid1"].size == before + 5000


def test_growth_in_quiet_directory_waits_for_the_window(tmp_path: Path) -> None:
    """The documented trade-off: a folder quiet for longer than hot_window is not re-read."""
    data = epu_session(tmp_path, movies=1)
    old_movie = next(data.glob("*_fractions.tiff"))
    scanner = TreeScanner(tmp_path, MovieRule(), hot_window=60)
    before = entries(scanner)["S00301_grid1"].size
    os.truncate(old_movie, 300_000_000 + 10)
    os.utime(old_movie, (OLD, OLD))  # grown, but dated in the past (e.g. a copy with -t)
    assert entries(scanner)["S00301_grid1"].size == before
    assert entries(TreeScanner(tmp_path, MovieRule()))["S00301_grid1"].size == before + 10


def test_deletions_are_pruned(tmp_path: Path) -> None:
    data = epu_session(tmp_path)
    epu_session(tmp_path, "S00302_eer")
    scanner = TreeScanner(tmp_path, MovieRule())
    assert set(entries(scanner)) == {"S00301_grid1", "S00302_eer"}
    for movie in data.glob("*_fractions.tiff"):
        movie.unlink()
    import shutil
    shutil.rmtree(tmp_path / "S00302_eer")
    found = entries(scanner)
    assert set(found) == {"S00301_grid1"}
    assert found["S00301_grid1"].movies == 0
    assert scanner.node_count() == 4


def test_files_vanishing_mid_scan(tmp_path: Path) -> None:
    data = epu_session(tmp_path)
    victims = sorted(data.glob("*.xml"))

    @contextlib.contextmanager
    def listing_then_delete(path: str) -> Iterator[Any]:
        with list_directory(path) as items:
            listed = list(items)
            if path == str(data):
                for v in victims:
                    v.unlink()  # gone between readdir and stat
            yield listed

    result = TreeScanner(tmp_path, MovieRule(), listdir=listing_then_delete).scan()
    s1 = {e.name: e for e in result.entries}["S00301_grid1"]
    assert (s1.files, s1.movies) == (5, 3)
    assert result.problems == []


def test_folder_swapped_for_a_link_between_stat_and_listing_is_not_listed(
        tmp_path: Path) -> None:
    share = tmp_path / "share"
    data = epu_session(share)
    outside = tmp_path / "outside"
    for i in range(4):
        make(outside / f"FoilHole_9{i}_Data_1_2_20240301_102000_fractions.tiff", 10)

    def stat_then_swap(path: Any, **kwargs: Any) -> os.stat_result:
        st = os.stat(path, **kwargs)
        if str(path) == str(data):   # a folder when checked, a link when listed
            data.rename(tmp_path / "moved-away")
            data.symlink_to(outside)
        return st

    result = TreeScanner(share, MovieRule(), threads=0, stat=stat_then_swap).scan()
    s1 = {e.name: e for e in result.entries}["S00301_grid1"]
    assert s1.movies == 0, "the files behind the link were counted"
    assert any(str(data) in p for p in result.problems), result.problems


def test_folder_above_one_swapped_for_a_link_before_its_listing_is_not_followed(
        tmp_path: Path) -> None:
    # O_NOFOLLOW guards only the last name: GridSquare_1 becomes a link after its Data
    # folder was found, and the open of .../GridSquare_1/Data would list the target's Data
    share = tmp_path / "share"
    data = epu_session(share)
    outside = tmp_path / "outside" / "GridSquare_9"
    for i in range(4):
        make(outside / "Data" / f"FoilHole_9{i}_Data_1_2_20240301_102000_fractions.tiff", 10)

    def stat_then_swap(path: Any, **kwargs: Any) -> os.stat_result:
        st = os.stat(path, **kwargs)
        if str(path) == str(data):
            data.parent.rename(tmp_path / "moved-away")
            data.parent.symlink_to(outside)
        return st

    result = TreeScanner(share, MovieRule(), threads=0, stat=stat_then_swap).scan()
    s1 = {e.name: e for e in result.entries}["S00301_grid1"]
    assert s1.movies == 0, "the files below the link were counted"
    assert [p for p in result.problems if str(data) in p and "became a link" in p], \
        result.problems


def test_a_root_below_a_link_is_scanned_and_its_own_link_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    epu_session(real / "frames")
    (tmp_path / "mnt").symlink_to(real)  # a link above the root: the admin's mount point
    scanner = TreeScanner(tmp_path / "mnt" / "frames", MovieRule(), threads=0)
    assert {e.name: e.movies for e in scanner.scan().entries} == {"S00301_grid1": 3}
    (tmp_path / "frames-link").symlink_to(real / "frames")
    with pytest.raises(RootUnavailable, match="cannot be listed"):
        TreeScanner(tmp_path / "frames-link", MovieRule()).scan()


def test_unreadable_folder_is_reported_and_the_rest_scanned(tmp_path: Path) -> None:
    # Tests run as root, for whom chmod 000 blocks nothing: inject the EACCES instead.
    data = epu_session(tmp_path)
    epu_session(tmp_path, "S00302_eer")

    @contextlib.contextmanager
    def denied(path: str) -> Iterator[Any]:
        if path == str(data):
            raise PermissionError(13, "Permission denied", path)
        with list_directory(path) as items:
            yield items

    scanner = TreeScanner(tmp_path, MovieRule(), listdir=denied)
    result = scanner.scan()
    found = {e.name: e for e in result.entries}
    assert found["S00301_grid1"].movies == 0 and found["S00302_eer"].movies == 3
    assert result.problems == [f"{data}: Permission denied"]
    scanner._listdir = list_directory  # access restored: read again at the next scan
    assert entries(scanner)["S00301_grid1"].movies == 3


def test_symlink_loop_and_broken_link(tmp_path: Path) -> None:
    data = epu_session(tmp_path)
    os.symlink(tmp_path, data / "loop")
    os.symlink(tmp_path / "S00301_grid1", tmp_path / "S00301_grid1" / "self")
    os.symlink(tmp_path / "nowhere", tmp_path / "broken")
    result = TreeScanner(tmp_path, MovieRule()).scan()
    found = {e.name: e for e in result.entries}
    assert set(found) == {"S00301_grid1"}  # links are not followed nor counted
    assert found["S00301_grid1"].movies == 3
    assert result.problems == []


def test_missing_root_then_created(tmp_path: Path) -> None:
    root = tmp_path / "frames"
    scanner = TreeScanner(root, MovieRule())
    with pytest.raises(RootUnavailable, match="No such file"):
        scanner.scan()
    make(tmp_path / "notadir")
    with pytest.raises(RootUnavailable, match="not a directory"):
        TreeScanner(tmp_path / "notadir", MovieRule()).scan()
    epu_session(root)
    assert entries(scanner)["S00301_grid1"].movies == 3


def test_directories_are_listed_on_several_threads_at_once(tmp_path: Path) -> None:
    for name in ("S1", "S2", "S3"):
        epu_session(tmp_path, name)
    meeting = threading.Barrier(2, timeout=10)
    threads: set[str] = set()
    tops: list[str] = []
    lock = threading.Lock()

    @contextlib.contextmanager
    def together(path: str) -> Iterator[Any]:
        meet = False
        if path != str(tmp_path):  # the root itself is listed by the calling thread
            with lock:
                threads.add(threading.current_thread().name)
                if os.path.dirname(path) == str(tmp_path):
                    tops.append(path)
                    meet = len(tops) <= 2
        if meet:
            meeting.wait()  # serial listing would never get two here: BrokenBarrierError
        with list_directory(path) as items:
            yield items

    # processes=1: a first scan that may split lists its first levels in one thread.
    parallel = TreeScanner(tmp_path, MovieRule(), threads=2, adaptive=False, processes=1,
                           listdir=together).scan()
    assert all(name.startswith("frames-scan") for name in threads)
    serial = TreeScanner(tmp_path, MovieRule(), threads=0).scan()
    assert parallel.entries == serial.entries and parallel.stats == serial.stats
    assert [e.movies for e in parallel.entries] == [3, 3, 3]


def test_problems_come_sorted_whatever_thread_finishes_first(tmp_path: Path) -> None:
    dirs = [epu_session(tmp_path, f"S{i}") for i in range(6)]

    @contextlib.contextmanager
    def denied(path: str) -> Iterator[Any]:
        if Path(path) in dirs:
            raise PermissionError(13, "Permission denied", path)
        with list_directory(path) as items:
            yield items

    result = TreeScanner(tmp_path, MovieRule(), threads=3, adaptive=False,
                         listdir=denied).scan()
    assert result.problems == sorted(f"{d}: Permission denied" for d in dirs)


def test_threads_only_once_listings_wait_on_io(tmp_path: Path) -> None:
    for i in range(8):
        epu_session(tmp_path, f"S{i}")
    names: list[str] = []

    def recording(delay: float) -> Any:
        @contextlib.contextmanager
        def listdir(path: str) -> Iterator[Any]:
            names.append(threading.current_thread().name)
            time.sleep(delay)  # off-CPU, like waiting for inodes from a disk
            with list_directory(path) as items:
                yield items
        return listdir

    slow = TreeScanner(tmp_path, MovieRule(), threads=2, processes=1,
                       listdir=recording(0.01)).scan()
    assert names[:2] == ["MainThread"] * 2  # the root, then measured in the calling thread
    assert any(n.startswith("frames-scan") for n in names)
    names.clear()
    # On-CPU listings (a small warm tree): never worth the GIL hand-offs.
    fast = TreeScanner(tmp_path, MovieRule(), threads=2, processes=1,
                       listdir=recording(0)).scan()
    assert set(names) == {"MainThread"}
    assert slow.entries == fast.entries
