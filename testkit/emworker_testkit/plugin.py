"""The pytest plugin (entry point ``pytest11``): real-server fixtures and their markers.

Loaded by every pytest run in an environment where ``emworker-testkit`` is installed, so a
plugin's tests reach ``emhub_server`` and ``slurm_cluster`` from the plugin's own folder.
"""

from __future__ import annotations

import sys

import pytest

from .emhub_server import emhub_server
from .slurm_cluster import slurm_cluster

__all__ = ["emhub_server", "slurm_cluster"]

MARKERS = (
    "emhub: needs the real EMhub server and Redis (started by the session fixture)",
    "slurm: needs the real single-node Slurm cluster (started by the fixture)",
    "slow: takes more than a few seconds",
    "server_group(name): under xdist, run this test in group NAME (one worker), not in "
    "real-servers (a real-server test: only if it touches nothing machine-wide)",
)


#: Under pytest-xdist's ``--dist loadgroup`` every real-server test (marked, or using a server
#: fixture) goes to this one group:
#: one worker starts EMhub + Redis (and takes the Slurm lock) and runs those tests in order,
#: as a serial run does, while the other workers share the tests that need no server.
#: A test marked ``server_group(name)`` goes to group ``name`` instead: tests that only
#: stop and start their own worker's EMhub (each worker starts one) run beside the others.
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
        own = item.get_closest_marker("server_group")
        marked = item.get_closest_marker("emhub") or item.get_closest_marker("slurm")
        if own:
            item.add_marker(pytest.mark.xdist_group(own.args[0]))
        elif marked or servers & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group(REAL_SERVERS_GROUP))


# After xdist's worker has written the groups into the node ids (pytest reads only
# functions named pytest_*, so the second impl of the hook takes a name of its own).
@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_last(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a two-worker run in which the group did not take: its tests would meet.

    xdist carries the group to its scheduler as a ``@group`` suffix of the node id. pytest
    9.2 made node ids structured and xdist 3.8.0 still writes the old field, so the suffix
    is silently lost (pytest-xdist issue #1386) and two real-server tests run at once.
    """
    if not getattr(config.option, "loadgroup", False):  # set on xdist workers only
        return
    lost = [
        item.nodeid
        for item in items
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid.rpartition("]")[2]
    ]
    if lost:
        message = (
            f"pytest-xdist did not group {len(lost)} real-server tests (first: {lost[0]}); "
            "this pytest and pytest-xdist do not keep --dist loadgroup groups (pytest-xdist "
            "issue #1386): install the pins in requirements/test-pins.txt, or run one process"
        )
        # xdist reports a worker that exits while collecting as a crash, without the reason.
        print(f"ERROR: {message}", file=sys.stderr, flush=True)
        pytest.exit(message, returncode=pytest.ExitCode.USAGE_ERROR)
