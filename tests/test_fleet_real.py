"""A small fleet rides out an EMhub kill: scenario 3 of bench/fleet.py on 5 real workers.

Its own EMhub + Redis (the fleet's names must be in ``config:hosts`` before EMhub starts,
and killing EMhub must not disturb other tests). Asserts only outcomes: no task lost, no
event missing, every worker delivers a task created after the restart without being
restarted itself. Timings are the benchmark's business.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from tests.harness.emhub_server import EMhubServer, HarnessUnavailable, unavailable
from tests.harness.fleet import Fleet, fleet_names
from tests.harness.fleet_scenarios import outage

pytestmark = [pytest.mark.emhub, pytest.mark.slow]

NAMES = fleet_names(5)


@pytest.fixture(scope="module")
def fleet_server() -> Iterator[EMhubServer]:
    server = EMhubServer.create(extra_workers=NAMES, tag="fleet-test")
    try:
        server.start()
    except (HarnessUnavailable, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()


def test_fleet_loses_no_task_when_emhub_is_killed(
        fleet_server: EMhubServer, worker_env: dict[str, str], tmp_path: Path) -> None:
    # A 3 s backoff cap keeps the test short; the backoff itself is the same code.
    with Fleet(fleet_server, NAMES, tmp_path / "fleet", worker_env,
               emhub_settings={"retry_max_delay": 3}) as fleet:
        fleet.wait_connected()
        result = outage(fleet_server, fleet, outage_seconds=20, after_seconds=5, timeout=120)
        assert sum(result.during) > 0, "no worker tried EMhub while it was down"
        assert result.lost == []
        assert result.gaps == []
        assert result.recovered == set(NAMES)
        assert set(fleet.pids()) == set(NAMES), "a worker exited instead of recovering"
