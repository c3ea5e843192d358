"""The guard's rules, each against the hostile case it exists for.

Links and names are planted as an unprivileged user (uid 65534 via ``setpriv`` when the
suite runs as root, as in CI), the way the microscope PC or a job user would plant them.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path
from typing import Iterator

import pytest

from emhub_worker_core.guard import (
    NotRegular,
    PathRefused,
    Skipped,
    TooLarge,
    atomic_write,
    confine,
    open_dir,
    open_regular,
    overlapping,
    read_bounded,
    read_tail,
    safe_name,
    same_file,
    unlink_same,
    walk_dirs_bottom_up,
    walk_files,
)
from emhub_worker_core.testing import UNPRIVILEGED_UID, as_unprivileged, reachable_tmp_dir


@pytest.fixture
def share() -> Iterator[Path]:
    """A folder a stranger (uid 65534) can write, like the frames share or a job's folder."""
    with reachable_tmp_dir() as tmp:
        folder = tmp / "share"
        folder.mkdir()
        if os.geteuid() == 0:
            os.chown(folder, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
        yield folder


def plant_link(target: str | Path, link: Path) -> None:
    as_unprivileged(["ln", "-s", str(target), str(link)])


def strangers(*folders: Path) -> None:
    """Folders made by the test, handed to the stranger so it can plant in them."""
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(folder, UNPRIVILEGED_UID, UNPRIVILEGED_UID)


def secret(tmp_path: Path) -> Path:
    """A root-only file (the stand-in for /etc/shadow or a config with a password)."""
    path = tmp_path / "secret.toml"
    path.write_text('password = "hunter2"\n')
    path.chmod(0o600)
    return path


# -- confine / safe_name ----------------------------------------------------------------

@pytest.mark.parametrize("bad", ["", "a\0b", "a\nb", "a\rb", "x\x1b[2J", "a\x7fb", "a\x85b",
                                 "..", "../x", "a/../b", "a/..", "/etc", "/", ".", "./"])
def test_confine_refuses(tmp_path: Path, bad: str) -> None:
    with pytest.raises(PathRefused):
        confine(bad, tmp_path, what="folder")


def test_confine_resolves_inside_and_within_a_session(tmp_path: Path) -> None:
    (tmp_path / "2026" / "S1").mkdir(parents=True)
    (tmp_path / "2026" / "S2").mkdir()
    real = tmp_path.resolve()
    assert confine("2026/S1", tmp_path, what="x") == real / "2026" / "S1"
    assert confine(str(tmp_path / "2026/S1/a"), tmp_path, what="x") == real / "2026/S1/a"
    session = tmp_path / "2026" / "S1"
    assert confine("2026/S1", tmp_path, what="x", within=session) == real / "2026" / "S1"
    assert confine("2026/S1/sub", tmp_path, what="x", within=session) == real / "2026/S1/sub"
    for other in ("2026", "2026/S2", "2026/S1x"):   # the parent, a sibling, a prefix
        with pytest.raises(PathRefused, match="session"):
            confine(other, tmp_path, what="x", within=session)


def test_confine_sees_through_a_planted_link(share: Path) -> None:
    plant_link("/etc", share / "escape")
    with pytest.raises(PathRefused, match="outside"):
        confine("escape/passwd", share, what="x")


@pytest.mark.parametrize("bad", ["", ".", "..", ".hidden", "a/b", "a\\b", "a\0b", "a\nb",
                                 "#END\r", "\x1b", 7, None])
def test_safe_name_refuses(bad: object) -> None:
    with pytest.raises(PathRefused):
        safe_name(bad, "session name")  # type: ignore[arg-type]


def test_safe_name_keeps_a_plain_name() -> None:
    assert safe_name("S00301_grid1 a..b", "session name") == "S00301_grid1 a..b"


def test_overlapping_roots(tmp_path: Path) -> None:
    (tmp_path / "frames" / "raw").mkdir(parents=True)
    (tmp_path / "raw").mkdir()
    assert overlapping(tmp_path / "frames", tmp_path / "frames" / "raw")
    assert overlapping(tmp_path / "frames" / "raw", tmp_path / "frames")
    assert overlapping(tmp_path / "raw", tmp_path / "raw/")
    assert not overlapping(tmp_path / "frames", tmp_path / "raw")
    (tmp_path / "alias").symlink_to(tmp_path / "frames")
    assert overlapping(tmp_path / "alias", tmp_path / "frames" / "raw")


# -- open_dir / open_regular ------------------------------------------------------------

def test_open_dir_refuses_a_planted_link_on_the_way(share: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    plant_link(tmp_path / "elsewhere", share / "Data")
    with pytest.raises(OSError) as info:
        open_dir("Data", root=share)
    assert info.value.errno in (errno.ELOOP, errno.ENOTDIR)
    with pytest.raises(OSError):
        open_dir(["Data", "x"], root=share, create=True)
    assert not (tmp_path / "elsewhere" / "x").exists()   # nothing made through the link


def test_open_dir_below_a_root_that_is_a_link(tmp_path: Path) -> None:
    (tmp_path / "mnt" / "data" / "S1").mkdir(parents=True)
    (tmp_path / "data").symlink_to(tmp_path / "mnt" / "data")   # the admin's root is a link
    for path in (tmp_path / "data" / "S1", tmp_path / "mnt" / "data" / "S1", "S1"):
        fd = open_dir(path, root=tmp_path / "data")
        try:
            assert same_file(os.fstat(fd), os.stat(tmp_path / "mnt" / "data" / "S1"))
        finally:
            os.close(fd)
    fd = open_dir(tmp_path / "data", root=tmp_path / "data")
    os.close(fd)


def test_open_dir_creates_and_refuses_bad_components(tmp_path: Path) -> None:
    fd = open_dir("a/b/c", root=tmp_path, create=True)
    try:
        assert same_file(os.fstat(fd), os.stat(tmp_path / "a/b/c"))
    finally:
        os.close(fd)
    fd = open_dir(tmp_path / "a" / "b", root=tmp_path)
    os.close(fd)
    for bad in ("a/../a", "../x", ["a", ".."], ["a/b"], ["x\ny"]):
        with pytest.raises(PathRefused):
            open_dir(bad, root=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(PathRefused):
        open_dir("/etc", root=tmp_path)


def test_open_regular_refuses_links_dangling_links_fifos_and_folders(share: Path,
                                                                     tmp_path: Path) -> None:
    plant_link(secret(tmp_path), share / "log")
    plant_link(tmp_path / "nowhere", share / "dangling")
    as_unprivileged(["mkfifo", str(share / "fifo")])
    (share / "dir").mkdir()
    folder = os.open(share, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in ("log", "dangling"):
            with pytest.raises(OSError) as info:
                open_regular(folder, name)
            assert info.value.errno == errno.ELOOP, name
        # a dangling link is not created through either (the gain-copy case)
        with pytest.raises(OSError):
            open_regular(folder, "dangling", os.O_WRONLY | os.O_CREAT)
        assert not (tmp_path / "nowhere").exists()
        for name in ("fifo", "dir"):   # a FIFO must not block us: refused at once
            with pytest.raises((NotRegular, IsADirectoryError)):
                open_regular(folder, name)
        (share / "plain").write_text("ok")
        fd = open_regular(folder, "plain")
        assert os.read(fd, 10) == b"ok"
        os.close(fd)
    finally:
        os.close(folder)


# -- walk_files / unlink_same -----------------------------------------------------------

def test_walk_files_reports_links_and_specials_and_never_follows(share: Path,
                                                                 tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "stolen_fractions.tiff").write_text("x")
    strangers(share / "Data")
    (share / "Data" / "a_fractions.tiff").write_text("movie")
    (share / "Data" / "name\nwith\rcontrol").write_text("x")
    (share / ".hidden").write_text("x")
    plant_link(outside, share / "Data" / "dirlink")
    plant_link(secret(tmp_path), share / "Data" / "link_fractions.tiff")
    plant_link(tmp_path / "nowhere", share / "dangling")
    as_unprivileged(["mkfifo", str(share / "fifo")])
    skipped: list[Skipped] = []
    fd = os.open(share, os.O_RDONLY | os.O_DIRECTORY)
    try:
        found = dict(walk_files(fd, skipped.append))
        everything = dict(walk_files(fd, skip_hidden=False))
    finally:
        os.close(fd)
    assert sorted(found) == ["Data/a_fractions.tiff", "Data/name\nwith\rcontrol"]
    assert all(stat.S_ISREG(st.st_mode) for st in found.values())
    assert sorted((s.rel, s.kind) for s in skipped) == [
        ("Data/dirlink", "link"), ("Data/link_fractions.tiff", "link"),
        ("dangling", "link"), ("fifo", "special")]
    assert ".hidden" in everything


def test_walk_dirs_bottom_up_never_enters_a_link(share: Path, tmp_path: Path) -> None:
    (tmp_path / "outside" / "keep").mkdir(parents=True)
    strangers(share / "a", share / "a" / "b")
    plant_link(tmp_path / "outside", share / "a" / "link")
    fd = os.open(share, os.O_RDONLY | os.O_DIRECTORY)
    try:
        names = [name for _parent, name in walk_dirs_bottom_up(fd)]
    finally:
        os.close(fd)
    assert names == ["b", "a"]


def test_unlink_same_removes_only_that_inode(share: Path, tmp_path: Path) -> None:
    (share / "movie").write_text("first")
    first = os.stat(share / "movie")
    fd = os.open(share, os.O_RDONLY | os.O_DIRECTORY)
    try:
        (share / "movie").rename(share / "kept")   # kept: its inode is not reused
        (share / "movie").write_text("other")   # same name, another file
        assert not unlink_same(fd, "movie", first.st_dev, first.st_ino)
        assert (share / "movie").read_text() == "other"
        (share / "movie").unlink()
        plant_link(secret(tmp_path), share / "movie")   # a link to the file of that inode
        target = os.stat(secret(tmp_path))
        assert not unlink_same(fd, "movie", target.st_dev, target.st_ino)
        assert secret(tmp_path).exists() and (share / "movie").is_symlink()
        (share / "plain").write_text("x")
        st = os.stat(share / "plain")
        assert not unlink_same(fd, "plain", st.st_dev, st.st_ino, size=st.st_size + 1)
        assert unlink_same(fd, "plain", st.st_dev, st.st_ino, size=st.st_size,
                           mtime_ns=st.st_mtime_ns)
        assert not (share / "plain").exists()
    finally:
        os.close(fd)


# -- atomic_write / read_tail / read_bounded --------------------------------------------

def test_atomic_write_replaces_a_planted_link_never_writes_through_it(share: Path,
                                                                      tmp_path: Path) -> None:
    target = secret(tmp_path)
    plant_link(target, share / "movies.txt")
    for fixed in (".movies.txt.tmp", ".otf_params.json.tmp", "movies.txt.tmp"):
        plant_link(target, share / fixed)   # the fixed temp names of old code
    atomic_write(share, "movies.txt", b"/raw/a_fractions.tiff\n", mode=0o640)
    assert target.read_text() == 'password = "hunter2"\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600           # not made readable
    written = share / "movies.txt"
    assert not written.is_symlink() and written.read_bytes() == b"/raw/a_fractions.tiff\n"
    assert stat.S_IMODE(written.stat().st_mode) == 0o640
    leftovers = sorted(p.name for p in share.iterdir())
    assert leftovers == sorted(["movies.txt", ".movies.txt.tmp", ".otf_params.json.tmp",
                                "movies.txt.tmp"])


def test_atomic_write_sets_the_mode_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        atomic_write(tmp_path, "f", b"x", mode=0o644)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644


def test_atomic_write_refuses_a_folder_that_is_a_link(share: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    plant_link(tmp_path / "elsewhere", share / "otf")
    with pytest.raises(OSError):
        atomic_write(share / "otf", "f", b"x")
    assert not list((tmp_path / "elsewhere").iterdir())


def test_atomic_write_readers_see_old_or_new_never_part(tmp_path: Path) -> None:
    old, new = b"a" * 300_000, b"b" * 400_000
    atomic_write(tmp_path, "f", old)
    seen: set[bytes] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(bytes({*(tmp_path / "f").read_bytes()}))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(20):
            atomic_write(tmp_path, "f", new)
            atomic_write(tmp_path, "f", old)
    finally:
        stop.set()
        reader.join()
    assert seen <= {b"a", b"b"}


def test_reads_refuse_links_and_fifos_and_are_bounded(share: Path, tmp_path: Path) -> None:
    plant_link(secret(tmp_path), share / "otf-1.log")
    as_unprivileged(["mkfifo", str(share / "fifo.log")])
    for read in (read_tail, read_bounded):
        with pytest.raises(OSError) as info:
            read(share, "otf-1.log", 1000)
        assert info.value.errno == errno.ELOOP
        with pytest.raises(NotRegular):
            read(share, "fifo.log", 1000)
    (share / "job.log").write_bytes(b"".join(b"line %d\n" % i for i in range(10_000)))
    assert read_tail(share, "job.log", 10) == b"line 9999\n"
    assert read_tail(share, "job.log", 10**9) == (share / "job.log").read_bytes()
    with pytest.raises(TooLarge):
        read_bounded(share, "job.log", 100)
    assert read_bounded(share, "job.log", 10**6) == (share / "job.log").read_bytes()
    fd = os.open(share, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert read_tail(fd, "job.log", 5) == b"9999\n"   # a descriptor works as the folder
    finally:
        os.close(fd)
