"""Checksum setting, old sha256 manifests, and the incremental session statistics."""

from __future__ import annotations

import json
import random

import pytest
from emworker_session_transfer.handler import TransferHandler
from emworker_session_transfer.manifest import MANIFEST_DIR, MANIFEST_NAME
from emworker_session_transfer.stats import SessionStats, raw_info
from emworker_session_transfer.testkit import (
    FakeClock,
    Tree,
    digest_of,
    fast_config,
    session_services,
)

from emhub_worker_core import ConfigError
from emhub_worker_core.testing import check_plugin_table, run_handler

TASK = {"name": "session", "args": {"action": "transfer", "session_id": 301}}


class Ticking:
    def __init__(self) -> None:
        self.clock = FakeClock()

    def __call__(self) -> float:
        self.clock.advance(0.5)
        return self.clock()


def records(tree: Tree) -> list[dict]:  # type: ignore[type-arg]
    manifest = tree.dest / MANIFEST_DIR / MANIFEST_NAME
    return [json.loads(x) for x in manifest.read_text().splitlines()]


def transfer(tree: Tree, **config: object):  # type: ignore[no-untyped-def]
    return run_handler(TransferHandler, TASK, iterations=None, clock=Ticking(),
                       services=session_services(tree.frames_root, tree.raw_root),
                       config=fast_config(quiet_seconds=1, stop_after_idle=30, **config))


@pytest.mark.parametrize("algorithm", ["blake3", "sha256"])
def test_manifest_records_the_algorithm_by_name(tree: Tree, algorithm: str) -> None:
    config = {} if algorithm == "blake3" else {"checksum": algorithm}  # blake3: the default
    assert transfer(tree, **config).last["done"] == 1
    copied = [r for r in records(tree) if r["op"] == "copied"]
    assert len(copied) == len(tree.files)
    for record in copied:
        assert record["algorithm"] == algorithm
        assert digest_of(tree.dest / record["path"], algorithm) == record["digest"]


def test_unknown_checksum_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="checksum"):
        check_plugin_table("session-transfer", {"checksum": "md5"})


def _old_format(tree: Tree, corrupt: bool) -> str:
    """Rewrite the manifest as the first version wrote it (sha256 under its own name),
    with one movie recorded but its source not removed yet (killed in between: the source
    is put back, and its record names that inode, as the copy would have recorded it)."""
    import os
    movie = next(r["path"] for r in records(tree) if r["op"] == "copied" and r["movie"])
    copy = tree.dest / movie
    source = tree.frames / movie
    source.write_bytes(copy.read_bytes())
    st = copy.stat()
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))
    source_st = source.stat()
    old = []
    for record in records(tree):
        if record["op"] == "copied":
            record = {k: v for k, v in record.items() if k not in ("digest", "algorithm")}
            record["sha256"] = digest_of(tree.dest / record["path"], "sha256")
            if record["path"] == movie:
                record.update(source_dev=source_st.st_dev, source_ino=source_st.st_ino)
        if record["op"] == "moved" and record["path"] == movie:
            continue
        old.append(record)
    (tree.dest / MANIFEST_DIR / MANIFEST_NAME).write_text(
        "".join(json.dumps(r) + "\n" for r in old))
    if corrupt:
        data = bytearray(copy.read_bytes())
        data[100] ^= 0xFF
        copy.write_bytes(bytes(data))
        os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))
    return movie


def test_old_sha256_manifest_still_verifies_on_resume(tree: Tree) -> None:
    transfer(tree)
    movie = _old_format(tree, corrupt=False)
    result = run_handler(TransferHandler, TASK, iterations=1, clock=Ticking(),
                         services=session_services(tree.frames_root, tree.raw_root),
                         config=fast_config(quiet_seconds=1))
    assert not (tree.frames / movie).exists()  # checked with sha256, then the source went
    assert not [e for e in result.events if e.get("new_files")]


def test_resume_does_not_remove_a_source_whose_copy_no_longer_matches(tree: Tree) -> None:
    transfer(tree)
    movie = _old_format(tree, corrupt=True)
    good = (tree.frames / movie).read_bytes()
    result = transfer(tree)
    assert result.last["done"] == 1
    assert (tree.dest / movie).read_bytes() == good  # copied again from the intact source
    assert not (tree.frames / movie).exists()


class Fact:
    def __init__(self, path: str, size: int, mtime: float, movie: bool) -> None:
        self.path, self.size, self.mtime, self.movie = path, size, mtime, movie


def test_incremental_stats_equal_a_full_recount() -> None:
    rng = random.Random(5)
    stats = SessionStats()
    latest: dict[str, Fact] = {}
    for i in range(2000):
        path = f"d{rng.randrange(5)}/f{rng.randrange(1500)}{rng.choice(['.xml', '.tiff', ''])}"
        fact = Fact(path, rng.randrange(10**6), 1e9 + rng.randrange(10**5),
                    path.endswith(".tiff"))
        latest[path] = fact  # the same path again: a file transferred again
        stats.add_file(fact)
        if i % 250 == 0:
            assert stats.as_raw() == reference(latest.values())
    assert stats.as_raw() == reference(latest.values())
    assert stats.as_raw() == raw_info(latest.values())


def reference(files) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The original whole-list computation (sorted by mtime, path)."""
    import os
    items = sorted(files, key=lambda f: (f.mtime, f.path))
    per_ext: dict[str, dict[str, int]] = {}
    for f in items:
        s = per_ext.setdefault(os.path.splitext(os.path.basename(f.path))[1],
                               {"count": 0, "size": 0})
        s["count"] += 1
        s["size"] += f.size
    total = sum(f.size for f in items)
    from emworker_session_transfer.stats import human_size
    info = {"files": per_ext, "files_total": len(items), "size": total,
            "sizeH": human_size(total), "movies": sum(f.movie for f in items),
            "first_file": items[0].path, "last_file": items[-1].path,
            "first_file_creation": items[0].mtime, "last_file_creation": items[-1].mtime,
            "duration": "%.2f hours" % ((items[-1].mtime - items[0].mtime) / 3600)}
    movies = [f for f in items if f.movie]
    if movies:
        info.update(first_movie=movies[0].path, last_movie=movies[-1].path,
                    first_movie_creation=movies[0].mtime, last_movie_creation=movies[-1].mtime)
    return info


def test_publishing_does_not_rescan_transferred_files(tree: Tree,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """extra.raw after a batch comes from the running figures, not from every file."""
    from emworker_session_transfer import stats as stats_module

    calls = {"n": 0}
    real = stats_module.SessionStats._rebuild

    def counting(self: SessionStats) -> None:
        calls["n"] += 1
        real(self)
    monkeypatch.setattr(stats_module.SessionStats, "_rebuild", counting)
    assert transfer(tree, batch=2).last["done"] == 1
    assert calls["n"] == 0
