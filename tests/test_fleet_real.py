"""A small fleet rides out an EMhub kill: scenario 3 of bench/fleet.py on 5 real workers.

On the session's EMhub + Redis, which registers the fleet's names at start
(``FLEET_WORKERS``: EMhub reads ``config:hosts`` once). Asserts only outcomes: no task lost,
no event missing, every worker delivers a task created after the restart without being
restarted itself. Timings are the benchmark's business.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from emworker_testkit.emhub_server import FLEET_WORKERS, EMhubServer

from tests.harness.fleet import Fleet
from tests.harness.fleet_scenarios import outage

# Stops and starts only this worker's own EMhub, with echo tasks: under xdist it may run
# beside the kit's real-servers group (emworker_testkit.plugin).
pytestmark = [pytest.mark.emhub, pytest.mark.slow, pytest.mark.server_group("emhub-outages")]

NAMES = list(FLEET_WORKERS)
#: Past the 1 + 2 + 3 s the backoff takes to reach its 3 s cap: the workers retry at the
#: cap while EMhub is down, as in a long outage.
OUTAGE = 8.0


def test_fleet_loses_no_task_when_emhub_is_killed(
        emhub_server: EMhubServer, worker_env: dict[str, str], tmp_path: Path) -> None:
    # A 3 s backoff cap keeps the test short; the backoff itself is the same code.
    with Fleet(emhub_server, NAMES, tmp_path / "fleet", worker_env,
               emhub_settings={"retry_max_delay": 3}) as fleet:
        fleet.wait_connected()
        result = outage(emhub_server, fleet, outage_seconds=OUTAGE, after_seconds=5,
                        timeout=120)
        assert sum(result.during) > 0, "no worker tried EMhub while it was down"
        assert result.lost == []
        assert result.gaps == []
        assert result.recovered == set(NAMES)
        assert set(fleet.pids()) == set(NAMES), "a worker exited instead of recovering"
