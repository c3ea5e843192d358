"""Who may make session-transfer touch what (issue 19): the destination, the manifest, the
roots and the frames folder named by EMhub. Each test fails on the code before it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest
from emworker_session_transfer.checksum import DEFAULT as DEFAULT_CHECKSUM
from emworker_session_transfer.handler import TransferHandler
from emworker_session_transfer.manifest import MANIFEST_DIR, MANIFEST_NAME
from emworker_session_transfer.testkit import (
    FakeClock,
    Tree,
    build_tree,
    digest_of,
    fast_config,
    make_session,
    session_services,
    sha256,
)

from emhub_worker_core.testing import (
    UNPRIVILEGED_UID,
    FakeEMhub,
    HandlerRun,
    as_unprivileged,
    reachable_tmp_dir,
    run_handler,
)

TASK = {"name": "session", "args": {"action": "transfer", "session_id": 301}}


class Ticking(FakeClock):
    """Half a second passes at each reading: files settle within a few steps."""

    def __call__(self) -> float:
        self.advance(0.5)
        return self.now


def run(tree: Tree, iterations: int | None, services: Any = None, task: Any = TASK,
        state_dir: Path | None = None, **config: Any) -> HandlerRun:
    services = services or session_services(tree.frames_root, tree.raw_root)
    return run_handler(TransferHandler, task, iterations=iterations, services=services,
                       clock=Ticking(), state_dir=state_dir,
                       config=fast_config(quiet_seconds=1, stop_after_idle=30, **config))


@pytest.fixture
def open_tree() -> Iterator[Tree]:
    """The usual session, under a folder the unprivileged account can reach."""
    with reachable_tmp_dir() as tmp:
        yield build_tree(tmp)


def movies(tree: Tree) -> dict[str, str]:
    return {rel: digest for rel, digest in tree.files.items() if rel.endswith("_fractions.tiff")}


def assert_no_movie_lost(tree: Tree) -> None:
    """Each movie is still a real file with its bytes: in frames, or copied into dest."""
    for rel, digest in movies(tree).items():
        places = [p for p in (tree.frames / rel, tree.dest / rel)
                  if p.is_file() and not any(q.is_symlink() for q in (p, *p.parents))]
        assert any(sha256(p) == digest for p in places), f"movie {rel} is lost"


def test_destination_link_into_frames_with_restart_loses_no_movie(open_tree: Tree) -> None:
    tree = open_tree
    tree.dest.mkdir(parents=True)
    os.chown(tree.dest, UNPRIVILEGED_UID, UNPRIVILEGED_UID)   # the group owns its raw folder
    as_unprivileged(["ln", "-s", str(tree.frames / "Images-Disc1"),
                     str(tree.dest / "Images-Disc1")])
    first = run(tree, iterations=6)
    assert_no_movie_lost(tree)
    second = run(tree, iterations=6)   # a restart: the manifest is read again
    assert_no_movie_lost(tree)
    for rel in movies(tree):          # nothing was moved: no copy outside the link exists
        assert (tree.frames / rel).is_file() and not (tree.frames / rel).is_symlink()
    errors = [e["error"] for e in first.events + second.events if "error" in e]
    assert errors and all("symlink" in text for text in errors), errors
    assert (tree.dest / "EpuSession.dm").is_file()   # the rest of the session still goes


def _forge(tree: Tree, path: str, source: Path) -> None:
    """A manifest record, as someone who can write the destination would write it."""
    st = source.stat()
    record = {"op": "copied", "path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
              "digest": digest_of(source, DEFAULT_CHECKSUM), "movie": True, "at": 1.0,
              "moved": False, "algorithm": DEFAULT_CHECKSUM,
              "source_dev": st.st_dev, "source_ino": st.st_ino}
    manifest = tree.dest / MANIFEST_DIR / MANIFEST_NAME
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest, "a") as fh:
        fh.write(json.dumps(record) + "\n")


def test_manifest_record_with_dotdot_never_deletes_another_sessions_movie(tree: Tree) -> None:
    other = tree.frames_root / "S00302_other"
    files = make_session(other, movies=1, holes=1)
    rel = next(r for r in files if r.endswith("_fractions.tiff"))
    victim = other / rel
    before = sha256(victim)
    # resolves to the other session's movie from the destination and the frames folder alike
    _forge(tree, "../" * 40 + str(victim).lstrip("/"), victim)
    _forge(tree, str(victim), victim)   # and as an absolute path
    run(tree, iterations=1)
    assert victim.is_file() and sha256(victim) == before


def test_a_source_that_is_not_the_copied_inode_is_left_in_place(tree: Tree) -> None:
    assert run(tree, iterations=None).last["done"] == 1
    rel = next(iter(movies(tree)))
    manifest = tree.dest / MANIFEST_DIR / MANIFEST_NAME
    records = [json.loads(line) for line in manifest.read_text().splitlines()]
    # as if killed before the removal, but the file now at the source's name is another
    # one (same bytes and times): it was never copied, so it is not removed
    source = tree.frames / rel
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes((tree.dest / rel).read_bytes())
    copy_st = (tree.dest / rel).stat()
    os.utime(source, ns=(copy_st.st_atime_ns, copy_st.st_mtime_ns))
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records
                                if not (r["op"] == "moved" and r["path"] == rel)))
    run(tree, iterations=1)
    assert source.is_file() and sha256(source) == tree.files[rel]


def test_a_copy_that_is_the_source_is_no_copy(tree: Tree) -> None:
    rel = next(iter(movies(tree)))
    source = tree.frames / rel
    (tree.dest / rel).parent.mkdir(parents=True)
    os.link(source, tree.dest / rel)   # the "copy" is the source itself (a hard link)
    _forge(tree, rel, source)
    run(tree, iterations=1)
    assert source.is_file() and sha256(source) == tree.files[rel]


@pytest.mark.parametrize("layout", ["raw inside frames", "frames inside raw", "same"])
def test_overlapping_roots_are_refused_and_nothing_touched(tmp_path: Path, layout: str) -> None:
    frames_root = tmp_path / "share"
    raw_root = {"raw inside frames": frames_root / "offload", "same": frames_root,
                "frames inside raw": tmp_path}[layout]
    frames_root.mkdir()
    raw_root.mkdir(exist_ok=True)
    make_session(frames_root / "S00301_grid1", movies=1, holes=1)
    before = sorted(tmp_path.rglob("*"))
    result = run_handler(TransferHandler, TASK, iterations=3, clock=Ticking(),
                         services=session_services(frames_root, raw_root),
                         config=fast_config(quiet_seconds=1))
    assert result.last["done"] == 1 and "overlap" in result.last["error"], result.events
    assert sorted(tmp_path.rglob("*")) == before


def services_for(tree: Tree, sessions: list[dict[str, Any]]) -> FakeEMhub:
    return FakeEMhub(
        configs={"sessions": {"raw": {"root_frames": str(tree.frames_root),
                                      "root": str(tree.raw_root)}}},
        sessions=sessions,
        users={s["id"]: {"owner": {"email": "jane.doe@inst.org", "name": "Jane Doe"},
                         "group": "doegrp"} for s in sessions},
        resources=[{"id": 1, "name": "Krios01"}])


def session(session_id: int, name: str, frames: str = "") -> dict[str, Any]:
    return {"id": session_id, "name": f"20240301Krios01:{name}", "start": "2024-03-01T10:00:00",
            "resource_id": 1, "extra": {"raw": {"frames": frames} if frames else {}}}


@pytest.mark.parametrize("frames", ["S00301_grid1/Images-Disc1", "S00301_grid1/Images-Disc1/",
                                    "S00301_grid1/Images-Disc1/GridSquare_12345670/Data"])
def test_frames_folder_must_be_a_direct_entry_of_the_frames_root(tree: Tree,
                                                                 frames: str) -> None:
    services = services_for(tree, [session(302, "S00302", frames)])
    before = {rel: (tree.frames / rel).exists() for rel in tree.files}
    result = run(tree, iterations=3, services=services,
                 task={"name": "session", "args": {"action": "transfer", "session_id": 302}})
    assert result.last["done"] == 1 and "directly in the frames root" in result.last["error"]
    assert {rel: (tree.frames / rel).exists() for rel in tree.files} == before


def test_another_sessions_frames_folder_is_refused(tree: Tree, tmp_path: Path) -> None:
    state = tmp_path / "state"
    services = services_for(tree, [session(301, "S00301_grid1"),
                                   session(302, "S00302", frames="S00301_grid1")])
    first = run(tree, iterations=2, services=services, state_dir=state)
    assert "error" not in first.last, first.events
    task_302 = {"name": "session", "args": {"action": "transfer", "session_id": 302}}
    stolen = run(tree, iterations=None, services=services, state_dir=state, task=task_302)
    assert stolen.last["done"] == 1 and "session 301" in stolen.last["error"], stolen.events
    assert not list(tree.raw_root.rglob("*S00302*")), "302 made a destination"
    again = run(tree, iterations=None, services=services, state_dir=state)  # 301 restarts
    assert again.last["done"] == 1 and "error" not in again.last, again.last
    for rel, digest in movies(tree).items():
        assert sha256(tree.dest / rel) == digest and not (tree.frames / rel).exists()


def test_a_frames_folder_claim_survives_a_restart_and_is_per_folder(tree: Tree,
                                                                    tmp_path: Path) -> None:
    state = tmp_path / "state"
    make_session(tree.frames_root / "S00302", movies=1, holes=1)
    services = services_for(tree, [session(301, "S00301_grid1"), session(302, "S00302")])
    task_302 = {"name": "session", "args": {"action": "transfer", "session_id": 302}}
    for task in (TASK, task_302, TASK, task_302):   # each its own folder, any order, twice
        result = run(tree, iterations=1, services=services, state_dir=state, task=task)
        assert not result.errors and not result.done, result.events
    claims = sorted(p.name.split(".")[0] for p in (state / "frames-claims").iterdir())
    assert claims == ["S00301_grid1", "S00302"]


def test_roots_configured_through_links_still_work(tree: Tree) -> None:
    """The admin's roots may be links (/data -> /mnt/data): only what is below is checked."""
    frames_link, raw_link = tree.root / "frames-link", tree.root / "raw-link"
    frames_link.symlink_to(tree.frames_root)
    raw_link.symlink_to(tree.raw_root)
    result = run(tree, iterations=None, services=session_services(frames_link, raw_link))
    assert result.last["done"] == 1 and "error" not in result.last, result.last
    for rel, digest in tree.files.items():
        assert sha256(tree.dest / rel) == digest, rel
