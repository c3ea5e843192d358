"""A site's workflow: an argv list with placeholders, an executor and its options.

Values come from EMhub and are data, never code or options: a placeholder is replaced
inside one argv item only (never re-split, never through a shell), and an item that would
start with ``-`` only because of a substituted value is refused. Unknown placeholders are
refused when the definition is read, so a typo fails before any session waits for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .project import check_project_kind

#: Every placeholder a workflow may use; the handler supplies all of them.
PLACEHOLDERS = ("session_id", "session_name", "otf_path", "raw_path", "movies_list",
                "params_file", "gain", "workflow", "microscope")
EXECUTORS = ("slurm", "lsf", "local")
_FIELD = re.compile(r"\{([^{}]*)\}")
# Scheduler option values: names, numbers, times (1-00:00:00), "gpu:2"; nothing a
# scheduler could read as another option.
_OPTION_VALUE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@+=/-]{0,127}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
OPTION_KEYS = ("partition", "queue", "gpus", "cpus", "memory", "time", "account", "user")
#: What decides which program runs, and as whom: from the local configuration only, unless
#: the admin sets ``emhub_defines_programs`` (see docs/security.rst).
PROGRAM_KEYS = ("argv", "executor", "user")


class WorkflowError(ValueError):
    """A workflow definition, or a value substituted into it, that is refused."""


@dataclass(frozen=True)
class Workflow:
    name: str
    argv: tuple[str, ...]
    executor: str
    options: Mapping[str, str] = field(default_factory=dict)
    project: str = ""  # a project kind EMhub renders (project.py), else ""

    @classmethod
    def parse(cls, name: str, data: Any) -> Workflow:
        if not _NAME.match(name):
            raise WorkflowError(f"workflow name {name!r} is not a plain name")
        if not isinstance(data, Mapping):
            raise WorkflowError(f"workflow {name!r} must be a table, got {type(data).__name__}")
        unknown = set(data) - {"argv", "executor", "project", *OPTION_KEYS}
        if unknown:
            raise WorkflowError(f"workflow {name!r}: unknown key(s) {sorted(unknown)}")
        argv = data.get("argv")
        if isinstance(argv, str) or not isinstance(argv, (list, tuple)) or not argv \
                or not all(isinstance(a, str) and a for a in argv):
            raise WorkflowError(f"workflow {name!r}: argv must be a non-empty list of "
                                "non-empty strings (a list, never a shell command line)")
        for item in argv:
            for placeholder in _FIELD.findall(item):
                if placeholder not in PLACEHOLDERS:
                    raise WorkflowError(f"workflow {name!r}: unknown placeholder "
                                        f"{{{placeholder}}} in {item!r}; known: "
                                        f"{', '.join(PLACEHOLDERS)}")
            if "{" in _FIELD.sub("", item) or "}" in _FIELD.sub("", item):
                raise WorkflowError(f"workflow {name!r}: unbalanced brace in {item!r}")
        if _FIELD.search(argv[0]):
            raise WorkflowError(f"workflow {name!r}: the program (argv[0]) must be fixed")
        executor = str(data.get("executor", "slurm"))
        if executor not in EXECUTORS:
            raise WorkflowError(f"workflow {name!r}: executor {executor!r} is not one of "
                                f"{', '.join(EXECUTORS)}")
        options: dict[str, str] = {}
        for key in OPTION_KEYS:
            if key in data and data[key] not in (None, ""):
                value = str(data[key])
                if not _OPTION_VALUE.match(value):
                    raise WorkflowError(f"workflow {name!r}: {key} {value!r} is not a plain "
                                        "value")
                options[key] = value
        try:
            project = check_project_kind(name, data.get("project"))
        except ValueError as exc:
            raise WorkflowError(str(exc)) from None
        return cls(name, tuple(argv), executor, options, project)

    def render(self, values: Mapping[str, str]) -> list[str]:
        """The argv with ``values`` substituted; refuses a value that becomes an option."""
        missing = set(PLACEHOLDERS) - set(values)
        if missing:
            raise WorkflowError(f"internal: no value for {sorted(missing)}")
        out = []
        for item in self.argv:
            rendered = _FIELD.sub(lambda m: values[m.group(1)], item)
            if rendered.startswith("-") and not item.startswith("-"):
                raise WorkflowError(f"workflow {self.name!r}: {item!r} would become the option "
                                    f"{rendered!r}; refused")
            if "\0" in rendered:
                raise WorkflowError(f"workflow {self.name!r}: NUL byte in {item!r}")
            out.append(rendered)
        return out


def untrusted_program_keys(name: str, site: Mapping[str, Any],
                           plugin: Mapping[str, Any]) -> list[str]:
    """Keys of :data:`PROGRAM_KEYS` that workflow ``name`` would take from EMhub's config."""
    base, over = site.get(name), plugin.get(name)
    base = base if isinstance(base, Mapping) else {}
    over = over if isinstance(over, Mapping) else {}
    return [key for key in PROGRAM_KEYS if key in base and key not in over]


def merge_definitions(site: Mapping[str, Any], plugin: Mapping[str, Any]) -> dict[str, Any]:
    """EMhub's ``otf.workflows`` with the plugin config's keys overriding, per workflow."""
    merged: dict[str, Any] = {}
    for name in {*site, *plugin}:
        base, over = site.get(name), plugin.get(name)
        if isinstance(base, Mapping) and isinstance(over, Mapping):
            merged[name] = {**base, **over}
        else:
            merged[name] = over if over is not None else base
    return merged
