"""The core's folders are its layers, and a layer imports only the layers below it.

Bottom to top: ``guard`` (and ``_compat``), ``contract`` (what plugins meet), ``ops``
(configuration, logs, state file, run lock, systemd, exit codes), ``sources`` (local and
EMhub), ``host`` (loading, routing, running, the main loop), ``testing`` (the plugin
authors' kit, which runs handlers through the host's loop), ``cli``. Read from the source
with ``ast``: every import counts, ``TYPE_CHECKING`` and function-level ones included.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "emhub_worker_core"
PACKAGE = CORE.name
#: the first part of a module's name under the package -> its layer, bottom first
LAYERS: dict[str, int] = {"_compat": 0, "guard": 0, "contract": 1, "ops": 2, "sources": 3,
                          "host": 4, "testing": 5, "cli": 6, "__main__": 7}
#: ``emhub_worker_core/__init__.py`` is the public surface: it re-exports the contract only
FACADE_LAYER = LAYERS["contract"]


def module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(CORE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(CORE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts == [PACKAGE]:
        return FACADE_LAYER
    return LAYERS.get(parts[1])


def imported_modules(module: str, source: str) -> list[tuple[str, int]]:
    """``(module, line)`` for every import of the core in ``source``, relative ones resolved."""
    is_package = MODULES[module].name == "__init__.py"
    package = module if is_package else module.rsplit(".", 1)[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from .. import exit_codes`` imports a module; ``from .x import name`` a name
            submodules = [f"{target}.{alias.name}" for alias in node.names
                          if f"{target}.{alias.name}" in MODULES]
            found += [(name, node.lineno) for name in submodules or [target]]
    return [(name, line) for name, line in found if name.split(".")[0] == PACKAGE]


def upward_imports(module: str, source: str) -> list[str]:
    """Every import in ``source`` (of ``module``) of a layer above the module's own."""
    own = layer_of(module)
    assert own is not None, f"{module} is in no layer: add its folder to LAYERS"
    return [f"{module}:{line} imports {target} (layer {layer_of(target)} > {own})"
            for target, line in imported_modules(module, source)
            if (layer_of(target) or 0) > own]


def test_every_module_is_in_a_layer() -> None:
    assert len(MODULES) > 40
    assert not [module for module in MODULES if layer_of(module) is None]


def test_the_top_level_holds_only_the_surface_the_kit_and_the_layers() -> None:
    top = sorted(p.name for p in CORE.iterdir()
                 if p.suffix == ".py" or (p / "__init__.py").exists())
    assert top == ["__init__.py", "__main__.py", "_compat", "cli", "contract", "guard", "host",
                   "ops", "sources", "testing.py"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_layers_import_only_downwards(module: str) -> None:
    assert not upward_imports(module, MODULES[module].read_text())


def test_guard_imports_nothing_of_the_core() -> None:
    for module, path in MODULES.items():
        if layer_of(module) == 0:
            targets = {t for t, _ in imported_modules(module, path.read_text())}
            assert all(layer_of(t) == 0 for t in targets), (module, targets)


@pytest.mark.parametrize(("module", "added"), [
    ("emhub_worker_core.contract.handler", "from ..host.routing import Router"),
    ("emhub_worker_core.ops.state_file", "from emhub_worker_core.sources.local import LocalSource"),
    ("emhub_worker_core.sources.emhub.client", "from ...host import main_loop"),
    ("emhub_worker_core.host.routing", "from ..cli import main"),
    ("emhub_worker_core.guard.fs", "from ..contract.errors import TaskError"),
    ("emhub_worker_core", "from .host.task_loop import run_task"),
])
def test_an_upward_import_is_caught(module: str, added: str) -> None:
    source = MODULES[module].read_text()
    assert not upward_imports(module, source)
    found = upward_imports(module, source + "\n\ndef later() -> None:\n    " + added + "\n")
    assert len(found) == 1 and found[0].startswith(module), found


def test_the_architecture_page_names_every_module_and_no_other() -> None:
    text = (CORE.parent / "docs" / "architecture.rst").read_text()
    named = {module.removeprefix(f"{PACKAGE}.") for module in MODULES if module != PACKAGE}
    assert not [name for name in sorted(named) if f"``{name}``" not in text]
    layers = "|".join(name for name in LAYERS if not name.startswith("_"))
    mentioned = set(re.findall(rf"``((?:{layers})(?:\.\w+)+)``", text))
    assert not mentioned - named  # a module the page names that is not there
