"""A plugin whose specs are a dict with values json.dumps refuses."""

import pathlib

from emhub_worker_core import hookimpl


@hookimpl
def emworker_worker_specs() -> dict:
    return {"odd-path": pathlib.Path("/opt"), "odd-ratio": float("nan"), 3: {1, 2}}
