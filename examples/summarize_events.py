"""Print a short summary of an events file written by ``emworker run --local --events``."""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def main(path: str) -> None:
    per_task: dict[str, list[dict]] = defaultdict(list)
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if "task_id" in record:
                plugin = record.get("plugin") or "no plugin"
                per_task[f"{record['task_id']} ({record['task']}, {plugin})"].append(
                    record["event"])
    for task, events in per_task.items():
        last = events[-1]
        state = "done" if "done" in last else ("error" if "error" in last else "running")
        shown = {k: (v if len(str(v)) < 80 else str(v)[:77] + "...") for k, v in last.items()
                 if k != "stack"}
        print(f"{task}: {len(events)} event(s), {state}; last: {shown}")


if __name__ == "__main__":
    main(sys.argv[1])
