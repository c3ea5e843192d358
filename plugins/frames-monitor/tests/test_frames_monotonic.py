"""The heartbeat is a duration: a step of the wall clock (NTP) does not trigger it (issue 21)."""

from __future__ import annotations

from pathlib import Path

from emworker_frames_monitor.handler import FramesMonitorHandler

from emhub_worker_core.testing import FakeClock, run_handler


def test_a_wall_clock_step_forward_sends_no_heartbeat(tmp_path: Path) -> None:
    clock = FakeClock()

    class Stepped(FramesMonitorHandler):
        def process(self) -> None:
            clock.step(86_400)  # NTP moves the wall clock a day ahead between scans
            super().process()

    run = run_handler(Stepped, {"name": "frames", "args": {"root": str(tmp_path),
                                                          "heartbeat": 100}},
                      iterations=3, clock=clock, config={"root": str(tmp_path)})
    reasons = [e["reason"] for e in run.events]
    assert reasons[0] == "first" and "heartbeat" not in reasons, reasons
    clock.advance(100)  # real time passing still brings it
    assert run.handler.policy.reason(run.handler.policy._last_key, False) == "heartbeat"
