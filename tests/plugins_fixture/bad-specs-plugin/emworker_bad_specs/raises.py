"""A plugin whose specs hook raises."""

from emhub_worker_core import hookimpl


@hookimpl
def emworker_worker_specs() -> dict:
    raise RuntimeError("scheduler not found")
