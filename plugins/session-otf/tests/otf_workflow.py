#!/usr/bin/env python3
"""The test workflow: reads the live movie list while it grows, one output per movie.

Usage: otf_workflow.py MOVIES_LIST OTF_PATH [FAIL_CODE]

Writes ``OTF_PATH/processed/<movie name>.out`` for each movie line, exits 0 once the
list ends with ``#END`` and every movie was processed, and writes ``OTF_PATH/ended``
(the epoch it exited at) just before. With FAIL_CODE it fails after the first movie.
"""

import os
import sys
import time


def main(movies_list: str, otf: str, fail: int = 0) -> int:
    out = os.path.join(otf, "processed")
    os.makedirs(out, exist_ok=True)
    done: set[str] = set()
    deadline = time.monotonic() + 600  # never outlive a broken test run by much
    while time.monotonic() < deadline:
        with open(movies_list, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        for line in lines:
            if line.startswith("#") or not line or line in done:
                continue
            name = os.path.basename(line)
            with open(os.path.join(out, name + ".out"), "w", encoding="utf-8") as fh:
                fh.write(f"{line}\n{os.path.getsize(line)}\n")
            done.add(line)
            print(f"processed {name}", flush=True)
            if fail:
                print("failing on purpose", flush=True)
                print(f"last words of the workflow: exit {fail}", flush=True)
                return fail
        if "#END" in lines:
            print(f"end of the session: {len(done)} movies", flush=True)
            with open(os.path.join(otf, "ended"), "w", encoding="utf-8") as fh:
                fh.write(f"{time.time()}\n")
            return 0
        time.sleep(0.1)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0))
