"""A plugin's tests run from its own folder, with the core, emworker-testkit and that plugin
installed (docs/testing-kit.rst): none may import the repository's ``tests`` package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from emhub_worker_core._compat import tomllib

REPO = Path(__file__).resolve().parent.parent
PLUGIN_FOLDERS = sorted(p.parent for p in [*REPO.glob("plugins/*/pyproject.toml"),
                                           *REPO.glob("contrib/*/pyproject.toml")])


def repository_imports(path: Path) -> list[str]:
    """``import tests...`` / ``from tests... import`` lines of one file, as "file:line"."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
        if any(name == "tests" or name.startswith("tests.") for name in names):
            found.append(f"{path}:{getattr(node, 'lineno', 0)}")
    return found


def test_the_check_sees_a_repository_import(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    for line in ("from tests.harness.emhub_server import X", "import tests.conftest",
                 "def f():\n    from tests import conftest"):
        sample.write_text(line + "\n")
        assert repository_imports(sample), line
    sample.write_text("from emworker_testkit.emhub_server import EMhubServer\n"
                      "from .tests import x\nimport testsuite\n")
    assert not repository_imports(sample)


@pytest.mark.parametrize("folder", PLUGIN_FOLDERS, ids=lambda p: p.name)
def test_no_plugin_test_imports_the_repository_tests(folder: Path) -> None:
    found = [hit for path in sorted((folder / "tests").rglob("*.py"))
             for hit in repository_imports(path)]
    assert not found, f"use emworker_testkit instead: {found}"


@pytest.mark.parametrize("folder", [f for f in PLUGIN_FOLDERS if f.parent.name == "plugins"],
                         ids=lambda p: p.name)
def test_a_plugin_folder_is_its_own_pytest_rootdir(folder: Path) -> None:
    options = tomllib.loads((folder / "pyproject.toml").read_text())["tool"]["pytest"]
    assert options["ini_options"]["testpaths"] == ["tests"]


class _Plugins:
    def __init__(self, loaded: set[str]) -> None:
        self.loaded = loaded

    def hasplugin(self, name: str) -> bool:
        return name in self.loaded


class _Config:
    def __init__(self, loaded: set[str]) -> None:
        self.pluginmanager = _Plugins(loaded)


class _Item:
    def __init__(self, marks: set[str], fixturenames: tuple[str, ...] = ()) -> None:
        self.marks = {name: getattr(pytest.mark, name).mark for name in marks}
        self.fixturenames = fixturenames

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        return self.marks.get(name)

    def add_marker(self, marker: pytest.MarkDecorator) -> None:
        self.marks[marker.name] = marker.mark


def test_real_server_tests_share_one_xdist_group_and_only_under_xdist() -> None:
    from emworker_testkit.plugin import REAL_SERVERS_GROUP, pytest_collection_modifyitems

    items = [_Item({"emhub"}), _Item({"slurm"}), _Item(set(), ("tmp_path", "emhub_server")),
             _Item(set(), ("tmp_path",))]
    pytest_collection_modifyitems(_Config({"xdist"}), items)
    groups = [item.marks.get("xdist_group") for item in items]
    assert [g.args if g else None for g in groups] == [(REAL_SERVERS_GROUP,)] * 3 + [None]
    alone = [_Item({"emhub"})]
    pytest_collection_modifyitems(_Config(set()), alone)
    assert "xdist_group" not in alone[0].marks  # unknown marker without xdist
