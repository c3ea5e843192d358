"""Paths: layout from the session (its year, local date), e-mail rules, confinement."""

from __future__ import annotations

from pathlib import Path

import pytest
from emworker_session_transfer.handler import TransferHandler
from emworker_session_transfer.paths import (
    PathRefused,
    layout_path,
    session_date,
    short_name,
    user_folder,
)
from emworker_session_transfer.settings import DEFAULT_LAYOUT
from emworker_session_transfer.testkit import Tree, fast_config, session_services

from emhub_worker_core.testing import run_handler


def test_names() -> None:
    assert short_name("20240301Krios01:S00301_grid1") == "S00301_grid1"
    assert short_name("plain") == "plain"
    assert user_folder("jane.doe@inst.org") == "jdoe"
    assert user_folder("jdoe@inst.org") == "jdoe"          # no dot: whole local part
    assert user_folder("jane.van.doe@x") == "jvan"


def test_year_and_date_are_the_sessions_local_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    monkeypatch.setenv("TZ", "America/Chicago")
    time.tzset()
    try:
        when = session_date("2024-01-01T03:00:00Z")         # still 2023 in Chicago
        assert (when.year, when.strftime("%Y%m%d")) == (2023, "20231231")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_layout_cannot_escape(tmp_path: Path) -> None:
    fields = {"group": "g", "microscope": "K", "year": "2024", "date": "20240301",
              "user": "jdoe", "short_name": "S1"}
    assert layout_path(DEFAULT_LAYOUT, fields, tmp_path).parts[-6:] == \
        ("K", "2024", "raw", "EPU", "jdoe", "20240301_K_S1")
    with pytest.raises(PathRefused):
        layout_path("../{group}", fields, tmp_path)
    with pytest.raises(PathRefused):
        layout_path(DEFAULT_LAYOUT, {**fields, "user": ".."}, tmp_path)


@pytest.mark.parametrize("name, email, args", [
    ("20240301Krios01:../../etc", "jane.doe@x", {}),
    ("20240301Krios01:a/b", "jane.doe@x", {}),
    ("20240301Krios01:S1", "../..@x", {}),
    ("20240301Krios01:S1", "jane.doe@x", {"frames": "/etc"}),
    ("20240301Krios01:S1", "jane.doe@x", {"raw": "../../tmp"}),
])
def test_task_paths_outside_roots_are_refused(tree: Tree, name: str, email: str,
                                              args: dict) -> None:  # type: ignore[type-arg]
    services = session_services(tree.frames_root, tree.raw_root, name=name, email=email)
    before = sorted(p for p in tree.root.rglob("*"))
    result = run_handler(TransferHandler, {"name": "session", "args": {
        "action": "transfer", "session_id": 301, **args}}, iterations=3, services=services,
        config=fast_config())
    assert len(result.events) == 1 and result.last["done"] == 1
    assert "refused" in result.last["error"]
    assert sorted(p for p in tree.root.rglob("*")) == before   # nothing created anywhere
    assert not [c for c in services.calls if c[0] == "update_session_extra"]
