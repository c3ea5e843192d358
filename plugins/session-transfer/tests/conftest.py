"""Fixtures of the session-transfer tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from emworker_session_transfer.testkit import Tree, build_tree


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return build_tree(tmp_path)
