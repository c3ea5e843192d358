"""Every distribution is packaged alike: licence, metadata, plugin API range, readme."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from emhub_worker_core import __version__
from emhub_worker_core._compat import tomllib

REPO = Path(__file__).resolve().parent.parent
DISTRIBUTIONS = sorted([REPO, *(p.parent for p in REPO.glob("plugins/*/pyproject.toml")),
                        *(p.parent for p in REPO.glob("contrib/*/pyproject.toml")),
                        REPO / "testkit"])
LICENSE = (REPO / "LICENSE").read_text()


def project(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((folder / "pyproject.toml").read_text())
    return data


def test_the_license_is_the_full_gpl3() -> None:
    assert LICENSE.lstrip().startswith("GNU GENERAL PUBLIC LICENSE")
    assert "Version 3, 29 June 2007" in LICENSE and "END OF TERMS AND CONDITIONS" in LICENSE


@pytest.mark.parametrize("folder", DISTRIBUTIONS, ids=lambda p: p.name)
def test_distribution_metadata(folder: Path) -> None:
    data = project(folder)
    meta = data["project"]
    assert meta["license"] == "GPL-3.0-or-later"  # an SPDX expression (PEP 639)
    assert meta["license-files"] == ["LICENSE"]
    assert (folder / "LICENSE").read_text() == LICENSE
    assert not any("License ::" in c for c in meta["classifiers"]), \
        "PEP 639: no licence classifier beside a licence expression"
    assert meta["classifiers"] and meta["keywords"] and meta["urls"]
    requires = [Requirement(r) for r in data["build-system"]["requires"]]
    setuptools = next(r for r in requires if r.name == "setuptools")
    assert not setuptools.specifier.contains("76.9") and setuptools.specifier.contains("77.0")
    readme = folder / meta["readme"]
    assert readme.exists()


@pytest.mark.parametrize("folder", [d for d in DISTRIBUTIONS if d != REPO],
                         ids=lambda p: p.name)
def test_plugins_depend_on_a_plugin_api_range_of_the_core(folder: Path) -> None:
    core = [Requirement(r) for r in project(folder)["project"]["dependencies"]
            if Requirement(r).name == "emhub-worker-core"]
    assert len(core) == 1
    spec: SpecifierSet = core[0].specifier
    version = Version(__version__)
    assert spec.contains(version), f"{folder.name}: {spec} excludes this core"
    assert not spec.contains(f"{version.major}.{version.minor + 1}.0"), \
        f"{folder.name}: {spec} has no upper bound at the next plugin API"


@pytest.mark.parametrize("folder", DISTRIBUTIONS, ids=lambda p: p.name)
def test_readme_links_work_outside_the_repository(folder: Path) -> None:
    readme = folder / project(folder)["project"]["readme"]
    links = re.findall(r"\]\(([^)]+)\)", readme.read_text())
    relative = [link for link in links if not link.startswith(("https://", "http://", "#"))]
    assert not relative, f"{readme.relative_to(REPO)}: links that break on a package index"


def test_published_extras_pin_no_exact_versions() -> None:
    extras = project(REPO)["project"]["optional-dependencies"]
    pinned = [r for reqs in extras.values() for r in reqs
              if any(s.operator in ("==", "===") for s in Requirement(r).specifier)]
    assert not pinned
    pins = (REPO / "requirements" / "test-pins.txt").read_text()
    assert "ruff==" in pins and "mypy==" in pins
    assert "requirements/test-pins.txt" in (REPO / "scripts" / "test.sh").read_text()


def test_installing_the_fixture_plugins_leaves_no_build_output_in_the_tree(
        installed_plugins: Path) -> None:
    # (contrib/echo-plugin is also installed by its README's own commands, as a user would:
    # its build/ is ignored output, never committed)
    fixtures = REPO / "tests" / "plugins_fixture"
    left = [str(p.relative_to(REPO)) for p in fixtures.rglob("build")]
    assert (installed_plugins / "emworker_broken").is_dir() and not left, left
