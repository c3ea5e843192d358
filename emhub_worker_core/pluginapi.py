"""Is an installed plugin built for this core's plugin API?

A plugin states the API it was built for once, where pip also reads it: its
distribution's dependency on ``emhub-worker-core`` (``Requires-Dist``), e.g.
``emhub-worker-core>=0.1,<0.2``. pip enforces that range at install time, but not later
(``pip install --upgrade emhub-worker-core`` only warns, ``--no-deps`` skips it), so the
core checks it again before importing the plugin and sets an incompatible one aside.
A plugin that declares no dependency on the core cannot be judged and is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional

from .version import PLUGIN_API, __version__

if TYPE_CHECKING:  # packaging is imported when plugins are loaded, not for every command
    from packaging.requirements import Requirement

CORE_DISTRIBUTION = "emhub-worker-core"


def core_requirements(requires: Iterable[str]) -> list[Requirement]:
    """The plugin's requirements on the core that apply here (markers evaluated)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    found = []
    for line in requires:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue  # pip would not have installed it; nothing to judge by
        if canonicalize_name(requirement.name) != CORE_DISTRIBUTION:
            continue
        # A requirement only under an extra (``; extra == "test"``) is not the plugin's.
        marker = requirement.marker
        if marker is not None and not marker.evaluate({"extra": ""}):
            continue
        found.append(requirement)
    return found


def incompatibility(requires: Iterable[str] | None,
                    core_version: str = __version__) -> Optional[str]:
    """Why the plugin cannot run on this core, or ``None`` when it can (or cannot be told)."""
    from packaging.version import InvalidVersion, Version

    try:
        version = Version(core_version)
    except InvalidVersion:
        return None
    api = PLUGIN_API if core_version == __version__ else f"{version.major}.{version.minor}"
    for requirement in core_requirements(requires or ()):
        if not requirement.specifier.contains(version, prereleases=True):
            return (f"incompatible plugin API: built for {CORE_DISTRIBUTION}"
                    f"{requirement.specifier}, but this is {core_version} (plugin API {api}); "
                    f"install a release of the plugin made for plugin API {api}")
    return None


__all__ = ["CORE_DISTRIBUTION", "core_requirements", "incompatibility"]
