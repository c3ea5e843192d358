"""The docs are part of the product: every hook documented, and the build clean."""

from __future__ import annotations

import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emhub_worker_core.contract import hooks

DOCS = Path(__file__).resolve().parent.parent / "docs"


def hook_specs() -> list[tuple[str, list[str]]]:
    return [(name, list(inspect.signature(fn).parameters))
            for name, fn in inspect.getmembers(hooks, inspect.isfunction)
            if name.startswith("emworker_")]


def test_there_are_hooks() -> None:
    assert [name for name, _ in hook_specs()] == ["emworker_plugin_settings",
                                                  "emworker_register_tasks",
                                                  "emworker_worker_specs"]


@pytest.mark.parametrize("name, params", hook_specs())
def test_every_hook_and_parameter_is_documented(name: str, params: list[str]) -> None:
    text = (DOCS / "hooks.rst").read_text()
    section = text.split(f".. _hook-{name}:", 1)
    assert len(section) == 2, f"docs/hooks.rst has no section for {name}"
    body = section[1].split(".. _hook-", 1)[0]
    for param in params:
        assert f"``{param}``" in body, f"parameter {param} of {name} is undocumented"
    doc = inspect.getdoc(getattr(hooks, name)) or ""
    assert "Fires" in doc, f"{name}'s docstring must say when it fires"


def test_docs_build_without_warnings(tmp_path: Path) -> None:
    if shutil.which("sphinx-build") is None and not _has_sphinx():
        pytest.skip("Sphinx is not installed (pip install -e '.[docs]')")
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q",
                             "-b", "html", str(DOCS), str(tmp_path / "html")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _has_sphinx() -> bool:
    try:
        import sphinx  # noqa: F401
    except ImportError:
        return False
    return True


def test_every_configuration_key_is_documented() -> None:
    from emhub_worker_core.ops.config import SECTIONS

    text = (DOCS / "configuration.rst").read_text()
    for section, keys in SECTIONS.items():
        assert f"``[{section}]``" in text
        for name, key in keys.items():
            assert f"``{name}``" in text, f"{section}.{name} is undocumented"
            if key.env:
                assert f"``{key.env}``" in text, f"${key.env} is undocumented"


def test_every_page_gives_status_the_exit_codes_it_has() -> None:
    """``emworker status`` exits 0/8/9/10 (3 for a bad configuration): a page that says
    otherwise (deployment.rst once said "0/1/2/3 like a monitoring plugin") makes a
    monitoring check wrong. Only the sentence that maps them to the Nagios codes may name
    other codes."""
    import re

    from emhub_worker_core.ops import exit_codes

    allowed = {exit_codes.OK, exit_codes.CONFIG, exit_codes.STATUS_STALE,
               exit_codes.STATUS_STOPPED, exit_codes.STATUS_UNKNOWN}
    repo = DOCS.parent
    pages = [*DOCS.glob("*.rst"), repo / "README.md", *repo.glob("plugins/*/README.md")]
    wrong = []
    for page in pages:
        text = re.sub(r"\s+", " ", page.read_text())
        for sentence in re.split(r"(?<=[.;])\s+(?=[A-Z`*(])", text):
            if not re.search(r"``status``|emworker status|`status`",
                             sentence.replace(":doc:`status`", "")) \
                    or "Nagios" in sentence or "expects 0/1/2/3 maps" in sentence:
                continue
            found = re.findall(r"\bexits? (?:code )?(\d+(?:/\d+)*)|\(exit (\d+)\)", sentence)
            for codes in (a or b for a, b in found):
                if any(int(c) not in allowed for c in codes.split("/")):
                    wrong.append(f"{page.name}: exit {codes} in: {sentence[:160]}")
    assert not wrong, "\n".join(wrong)


def test_every_run_handler_parameter_is_documented() -> None:
    from emhub_worker_core.testing import run_handler

    text = (DOCS / "testing-kit.rst").read_text()
    listed = text.split("Its parameters:", 1)[1].split("The result", 1)[0]
    for param in inspect.signature(run_handler).parameters:
        assert f"\n``{param}``\n" in listed, f"run_handler's {param} is not in testing-kit.rst"


def test_plugin_authors_are_told_that_a_restart_runs_setup_again() -> None:
    """After a restart a pending task comes back with a new handler (the real-EMhub test
    test_pending_tasks_resume_after_a_worker_restart shows it): both pages say so."""
    for page in ("writing-plugins.rst", "testing-kit.rst"):
        text = " ".join((DOCS / page).read_text().split())
        assert "``setup()`` runs again" in text, page
