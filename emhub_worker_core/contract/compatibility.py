"""Is an installed plugin built for this core's plugin API?

A plugin states the API it was built for once, where pip also reads it: its
distribution's dependency on ``emhub-worker-core`` (``Requires-Dist``), e.g.
``emhub-worker-core>=0.1,<0.2``. pip enforces that range at install time, but not later
(``pip install --upgrade emhub-worker-core`` only warns, ``--no-deps`` skips it), so the
core checks it again before importing the plugin and sets an incompatible one aside.
A plugin that declares no dependency on the core cannot be judged and is loaded.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable, Optional

from .version import PLUGIN_API, __version__

if TYPE_CHECKING:  # packaging is imported when plugins are loaded, not for every command
    from packaging.specifiers import SpecifierSet

CORE_DISTRIBUTION = "emhub-worker-core"


#: ``name[extras] specifier`` without a marker: the plain form of a dependency line.
_PLAIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;@]*)$")


def core_specifiers(requires: Iterable[str]) -> list[SpecifierSet]:
    """The version ranges the plugin requires of the core, where they apply here.

    Plain lines (``emhub-worker-core>=0.1,<0.2``, what every plugin writes) are read with
    packaging's small specifier module; only a line with a marker or a URL pays for the
    full requirement parser (markers need the platform's tags, ~100 ms of imports), so
    ``emworker plugins list`` stays quick.
    """
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    found = []
    for line in requires:
        plain = _PLAIN.match(line)
        if plain:
            if _canonical(plain.group(1)) != CORE_DISTRIBUTION:
                continue
            try:
                found.append(SpecifierSet(plain.group(3).strip().strip("()")))
            except InvalidSpecifier:
                pass  # pip would not have installed it; nothing to judge by
            continue
        head = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if head is None or _canonical(head.group(1)) != CORE_DISTRIBUTION:
            continue
        found.extend(_with_marker(line))
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503 name normalisation


def _with_marker(line: str) -> list[SpecifierSet]:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(line)
    except InvalidRequirement:
        return []  # pip would not have installed it; nothing to judge by
    # A requirement only under an extra (``; extra == "test"``) is not the plugin's.
    marker = requirement.marker
    if marker is not None and not marker.evaluate({"extra": ""}):
        return []
    return [requirement.specifier]


def incompatibility(requires: Iterable[str] | None,
                    core_version: str = __version__) -> Optional[str]:
    """Why the plugin cannot run on this core, or ``None`` when it can (or cannot be told)."""
    from packaging.version import InvalidVersion, Version

    try:
        version = Version(core_version)
    except InvalidVersion:
        return None
    api = PLUGIN_API if core_version == __version__ else f"{version.major}.{version.minor}"
    for specifier in core_specifiers(requires or ()):
        if not specifier.contains(version, prereleases=True):
            return (f"incompatible plugin API: built for {CORE_DISTRIBUTION}"
                    f"{specifier}, but this is {core_version} (plugin API {api}); "
                    f"install a release of the plugin made for plugin API {api}")
    return None


__all__ = ["CORE_DISTRIBUTION", "core_specifiers", "incompatibility"]
