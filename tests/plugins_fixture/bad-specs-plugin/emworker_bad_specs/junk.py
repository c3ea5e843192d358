"""A plugin whose specs hook returns a list instead of a dict."""

from emhub_worker_core import hookimpl


@hookimpl
def emworker_worker_specs() -> list:
    return ["not", "a", "dict"]
