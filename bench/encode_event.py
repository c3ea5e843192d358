"""What total encoding costs: ``encode_event`` on a frames-monitor-sized snapshot, against
the encoder it replaced (``json.dumps(..., default=str)``, which raised on odd keys and wrote
NaN into JSON). Both run interleaved in one loop, no pauses; prints medians and the ratio.

    .venv/bin/python bench/encode_event.py [--entries 2000] [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any, Callable

from emhub_worker_core.contract.events import encode_event


def snapshot(entries: int) -> dict[str, Any]:
    """Like a frames-monitor event: a list of folder entries and a usage dict."""
    return {"entries": [{"path": f"/data/EPU/S{i:05d}_grid", "movies": i * 7,
                         "size": i * 1.5e9, "mtime": 1.7e9 + i, "name": f"S{i:05d}",
                         "gpus": [0, 1]} for i in range(entries)],
            "usage": {"total": 1.2e14, "used": 8.1e13, "free": 3.9e13}, "maxlen": 2}


def baseline(event: dict[str, Any]) -> dict[str, Any]:
    return {k: json.dumps(v, default=str, separators=(",", ":")) if isinstance(v, (dict, list))
            else v for k, v in event.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    event = snapshot(args.entries)
    methods: dict[str, Callable[[dict[str, Any]], Any]] = {
        "json.dumps(default=str) [baseline]": baseline, "encode_event": encode_event}
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.runs):
        for name, method in methods.items():  # interleaved: load hits both alike
            start = time.perf_counter()
            method(event)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        print(f"{name:38s} median {median * 1000:8.2f} ms over {args.runs} runs")
    base = medians["json.dumps(default=str) [baseline]"]
    print(f"ratio encode_event / baseline: {medians['encode_event'] / base:.2f}")


if __name__ == "__main__":
    main()
