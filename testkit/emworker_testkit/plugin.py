"""The pytest plugin (entry point ``pytest11``): real-server fixtures and their markers.

Loaded by every pytest run in an environment where ``emworker-testkit`` is installed, so a
plugin's tests reach ``emhub_server`` and ``slurm_cluster`` from the plugin's own folder.
"""

from __future__ import annotations

import pytest

from .emhub_server import emhub_server
from .slurm_cluster import slurm_cluster

__all__ = ["emhub_server", "slurm_cluster"]

MARKERS = (
    "emhub: needs the real EMhub server and Redis (started by the session fixture)",
    "slurm: needs the real single-node Slurm cluster (started by the fixture)",
    "slow: takes more than a few seconds",
)


#: Under pytest-xdist's ``--dist loadgroup`` every real-server test (marked, or using a server
#: fixture) goes to this one group:
#: one worker starts EMhub + Redis (and takes the Slurm lock) and runs those tests in order,
#: as a serial run does, while the other workers share the tests that need no server.
REAL_SERVERS_GROUP = "real-servers"


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups from the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):  # its marker is unknown without it
        return
    servers = {"emhub_server", "slurm_cluster"}
    for item in items:
        marked = item.get_closest_marker("emhub") or item.get_closest_marker("slurm")
        if marked or servers & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group(REAL_SERVERS_GROUP))
