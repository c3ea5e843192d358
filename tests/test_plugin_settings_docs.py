"""Each built-in plugin's README settings tables agree with its declaration: every declared
setting is documented, every documented key is declared, each default is the declared one,
and an ``arg`` table names only settings a task may override."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import pytest

from emhub_worker_core.contract.plugin_settings import Setting, declared

REPO = Path(__file__).resolve().parent.parent
PLUGINS = {"cluster-lsf": "emworker_cluster_lsf", "cluster-slurm": "emworker_cluster_slurm",
           "frames-monitor": "emworker_frames_monitor", "session-otf": "emworker_session_otf",
           "session-transfer": "emworker_session_transfer"}


class Row(NamedTuple):
    kind: str              # "key" (the admin's table) or "arg" (a task argument)
    keys: list[str]
    default: str           # the default cell as written
    line: int


def settings_rows(text: str) -> Iterator[Row]:
    """Rows of the tables whose header is ``| key | default | ...`` or ``| arg | default |``."""
    kind = ""
    for number, line in enumerate(text.splitlines(), 1):
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            kind = ""
        elif len(cells) >= 2 and cells[0] in ("key", "arg") and cells[1] == "default":
            kind = cells[0]
        elif kind and not set(cells[0]) <= set("-: "):
            yield Row(kind, re.findall(r"`([a-z_]+)`", cells[0]), cells[1], number)


def _empty(value: Any) -> bool:
    return value in (None, "", (), {}, [])


def _shown(value: Any) -> list[str]:
    """What the cell must contain for the declared default ``value``."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (int, float)):
        return [f"{value:g}" if isinstance(value, float) else str(value)]
    if isinstance(value, tuple):
        return [str(item) for item in value]
    return [str(value)]


def default_problem(item: Setting, cell: str) -> str | None:
    """Why ``cell`` does not state ``item``'s default (None when it does)."""
    if _empty(item.default):  # a fallback in words ("EMhub's raw.root"), or an empty literal
        literal = cell.strip("` ")
        if re.fullmatch(r"-?\d+(\.\d+)?|\"[^\"]+\"", literal):
            return f"documented default {cell!r}, declared {item.default!r}"
        return None
    for text in _shown(item.default):
        pattern = rf"(?<![\w.]){re.escape(text)}(?![\w]|\.\d)"
        if not re.search(pattern, cell):
            return f"documented default {cell!r} does not show {text!r} (declared " \
                   f"{item.default!r})"
    return None


def problems(plugin: str, package: str) -> list[str]:
    module = __import__(f"{package}.plugin", fromlist=["plugin"])
    settings = declared(module.emworker_plugin_settings())
    readme = f"plugins/{plugin}/README.md"
    rows = list(settings_rows((REPO / readme).read_text()))
    found, seen = [], set()
    for row in rows:
        where = f"{readme}:{row.line}"
        cells = [c.strip() for c in row.default.split(",")]
        for index, key in enumerate(row.keys):
            item = settings.get(key)
            if item is None:
                if row.kind == "key":
                    found.append(f"{where}: {key}: documented, not declared")
                continue
            seen.add(key)
            if row.kind == "arg" and not item.task_arg:
                found.append(f"{where}: {key}: documented as a task arg, declared admin-only")
            # "`a`, `b` | 30, 900": one default each, in order; otherwise the whole cell
            cell = cells[index] if len(row.keys) > 1 and len(cells) == len(row.keys) \
                else row.default
            problem = default_problem(item, cell)
            if problem:
                found.append(f"{where}: {key}: {problem}")
    found += [f"{readme}: {key}: declared, not documented" for key in settings
              if key not in seen]
    return found


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_the_readme_settings_agree_with_the_declaration(plugin: str) -> None:
    assert problems(plugin, PLUGINS[plugin]) == []


def test_a_wrong_default_or_key_in_a_table_is_caught(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (REPO / "plugins/session-transfer/README.md").read_text()
    wrong = readme.replace("| `workers` | 4 |", "| `workers` | 8 |").replace(
        "| `batch` | 128 |", "| `bacth` | 128 |")
    assert wrong != readme
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: wrong)
    found = problems("session-transfer", PLUGINS["session-transfer"])
    assert any("workers: documented default '8' does not show '4'" in p for p in found)
    assert any("bacth: documented, not declared" in p for p in found)
    assert any("batch: declared, not documented" in p for p in found)
