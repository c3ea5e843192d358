"""The code blocks of the docs and READMEs, each with an id that changes when its text does.

An example is a literal block of ``docs/*.rst`` (after ``::``), or a fenced or indented
code block of ``README.md``, ``plugins/*/README.md`` and ``contrib/*/README.md``. Its id is
``<file>:<first 10 hex digits of the SHA-1 of its text>``: editing an example gives it a
new id, so the list of what the suite does with each example (tests/test_docs_examples.py)
must be updated with it, and an example can never change without being run again.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC_FILES = sorted([*REPO.glob("docs/*.rst"), REPO / "README.md",
                    *REPO.glob("plugins/*/README.md"), *REPO.glob("contrib/*/README.md")])


@dataclass(frozen=True)
class Example:
    path: str       # relative to the repository
    line: int       # first line of the block's text
    lang: str       # the fence's language ("" when none is given, and for rst)
    text: str       # dedented, trailing blank lines removed

    @property
    def id(self) -> str:
        digest = hashlib.sha1(self.text.encode()).hexdigest()[:10]
        return f"{self.path}:{digest}"

    @property
    def first_line(self) -> str:
        return self.text.splitlines()[0].strip()


def _block(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    """Lines from ``start`` while blank or indented ``indent`` or more; the index after."""
    end = start
    while end < len(lines) and (not lines[end].strip() or
                                len(lines[end]) - len(lines[end].lstrip()) >= indent):
        end += 1
    body = lines[start:end]
    while body and not body[-1].strip():
        body.pop()
    return body, end


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def rst_examples(path: Path) -> list[Example]:
    lines = path.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::") and not line.lstrip().startswith(".. "):
            start = i + 1
            while start < len(lines) and not lines[start].strip():
                start += 1
            if start < len(lines) and _indent(lines[start]) > _indent(line):
                body, i = _block(lines, start, _indent(lines[start]))
                found.append(Example(_rel(path), start + 1, "",
                                     textwrap.dedent("\n".join(body))))
                continue
        i += 1
    return found


LIST_ITEM = re.compile(r"^\s*(?:[*+-]|\d+\.)\s")


def md_examples(path: Path) -> list[Example]:
    lines = path.read_text().splitlines()
    found, i, previous = [], 0, ""
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^\s*```(\S*)", line)
        if fence:
            end = i + 1
            while end < len(lines) and not lines[end].lstrip().startswith("```"):
                end += 1
            found.append(Example(_rel(path), i + 2, fence.group(1),
                                 textwrap.dedent("\n".join(lines[i + 1:end])).rstrip("\n")))
            i, previous = end + 1, ""
            continue
        if (_indent(line) >= 4 and line.strip() and not lines[i - 1].strip()
                and previous and not LIST_ITEM.match(previous) and not previous.startswith("|")):
            body, end = _block(lines, i, 4)
            found.append(Example(_rel(path), i + 1, "", textwrap.dedent("\n".join(body))))
            i = end
            continue
        if line.strip():
            previous = line
        i += 1
    return found


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def all_examples() -> list[Example]:
    examples = []
    for path in DOC_FILES:
        examples += rst_examples(path) if path.suffix == ".rst" else md_examples(path)
    return examples


def example(path: str, first_line_starts: str) -> Example:
    """The one example of ``path`` whose first line starts so (for a test that runs it)."""
    matches = [e for e in all_examples()
               if e.path == path and e.first_line.startswith(first_line_starts)]
    assert len(matches) == 1, f"{path}: {len(matches)} examples start {first_line_starts!r}"
    return matches[0]


if __name__ == "__main__":  # the ids, to write the list in tests/test_docs_examples.py
    for found in all_examples():
        print(f"{found.id}  {found.path}:{found.line} {found.lang} {found.first_line[:60]}")
