"""The plugin contract is what ``emhub_worker_core`` exports, and the built-ins live by it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import emhub_worker_core
from emhub_worker_core import guard, testing

REPO = Path(__file__).resolve().parent.parent
#: the modules a plugin may import from: the public surface, the trust rules and the test kit
PUBLIC_MODULES = {"emhub_worker_core": emhub_worker_core, "emhub_worker_core.guard": guard,
                  "emhub_worker_core.testing": testing}
PLUGIN_TREES = sorted(p for p in [*REPO.glob("plugins/*"), *REPO.glob("contrib/*")]
                      if (p / "pyproject.toml").exists())


def core_imports(path: Path) -> list[tuple[str, list[str], int]]:
    """``(module, names, line)`` of every import of emhub_worker_core in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "emhub_worker_core":
            found.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names
                      if a.name.split(".")[0] == "emhub_worker_core"]
    return found


def test_the_contract_is_exported() -> None:
    for name in ("hookimpl", "RegisterTask", "TaskHandler", "TaskContext", "Task",
                 "EMhubServices", "Runner", "CommandResult", "Outcome", "TaskError",
                 "EmworkerError", "CommandError", "ServiceUnavailable", "PLUGIN_API"):
        assert name in emhub_worker_core.__all__, name


def test_internals_are_not_exported_but_stay_importable() -> None:
    for name in ("encode_event", "CommandRunner"):
        assert name not in emhub_worker_core.__all__
        assert hasattr(emhub_worker_core, name)  # older plugins may still import them


@pytest.mark.parametrize("module", list(PUBLIC_MODULES.values()), ids=lambda m: m.__name__)
def test_every_exported_name_exists(module: object) -> None:
    names = list(vars(module)["__all__"])
    assert len(names) == len(set(names))
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing


def test_the_package_is_marked_typed() -> None:
    assert (Path(emhub_worker_core.__file__).parent / "py.typed").exists()
    for tree in REPO.glob("plugins/*"):
        packages = [p for p in tree.glob("emworker_*") if (p / "__init__.py").exists()]
        assert packages and all((p / "py.typed").exists() for p in packages), tree


def test_there_are_plugins_to_check() -> None:
    names = {p.name for p in PLUGIN_TREES}
    assert {"frames-monitor", "session-transfer", "echo-plugin", "plugin-template"} <= names


@pytest.mark.parametrize("tree", PLUGIN_TREES, ids=lambda p: p.name)
def test_plugins_import_only_the_public_surface_and_the_test_kit(tree: Path) -> None:
    offences = []
    for path in sorted(tree.rglob("*.py")):
        parts = path.relative_to(tree).parts
        # build output, and what a plugin's own test run leaves (.venv-emhub, .test-run)
        if "build" in parts or any(part.startswith(".") for part in parts):
            continue
        for module, names, line in core_imports(path):
            where = f"{path.relative_to(REPO)}:{line}"
            if module not in PUBLIC_MODULES:
                offences.append(f"{where}: imports private module {module}")
                continue
            public = vars(PUBLIC_MODULES[module])["__all__"]
            offences += [f"{where}: {module}.{name} is not in its __all__"
                         for name in names if name not in public]
    assert not offences, "\n".join(offences)


def test_every_public_name_is_in_the_api_reference() -> None:
    text = (REPO / "docs" / "api.rst").read_text()
    missing = [name for name in emhub_worker_core.__all__
               if f"emhub_worker_core.{name}" not in text]
    assert not missing, f"docs/api.rst does not document {missing}"
    kit = (REPO / "docs" / "testing-kit.rst").read_text()
    missing = [name for name in testing.__all__ if name not in kit]
    assert not missing, f"docs/testing-kit.rst does not document {missing}"
    missing = [name for name in guard.__all__ if f"emhub_worker_core.guard.{name}" not in text]
    assert not missing, f"docs/api.rst does not document the guard's {missing}"


def test_every_error_of_the_core_is_in_the_one_tree() -> None:
    """Every EmworkerError subclass is defined in contract/errors.py and drawn in its
    tree; the internal ones stay importable where they were defined before."""
    import importlib

    from emhub_worker_core.contract import errors

    tree = errors.__doc__ or ""
    defined_elsewhere = []
    for path in sorted((REPO / "emhub_worker_core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and path.name != "errors.py" \
                    and any(isinstance(base, ast.Name) and base.id in vars(errors)
                            for base in node.bases):
                defined_elsewhere.append(f"{path.relative_to(REPO)}: {node.name}")
    assert not defined_elsewhere
    classes = [value for value in vars(errors).values()
               if isinstance(value, type) and issubclass(value, errors.EmworkerError)]
    assert len(classes) >= 20
    drawn = {line.split("── ")[-1].split()[0] for line in tree.splitlines()
             if "── " in line} | {"EmworkerError"}
    assert not [cls.__name__ for cls in classes if cls.__name__ not in drawn]
    for module, name in [("sources.emhub.client", "LoginExpired"),
                         ("sources.emhub.client", "PollTimeout"),
                         ("sources.emhub.client", "ServerBusy"),
                         ("sources.emhub.client", "TokenRejected"),
                         ("ops.run_lock", "AlreadyRunning")]:
        moved = getattr(importlib.import_module(f"emhub_worker_core.{module}"), name)
        assert moved is getattr(errors, name)
