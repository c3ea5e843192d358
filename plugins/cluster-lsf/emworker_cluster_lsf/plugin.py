"""Entry point of the ``cluster-lsf`` plugin. Handlers are named, not imported: listing
plugins must not pay for them."""

from __future__ import annotations

from typing import Mapping

from emhub_worker_core import RegisterTask, hookimpl

ABOUT = {
    "pattern": "queue names containing this are reported (default 'cryo')",
    "queues": "report exactly these LSF queues instead of matching a pattern",
    "period": "seconds between two snapshots (default 30)",
    "timeout": "seconds each bqueues/bjobs/bhosts call may take (default 30)",
}


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("cluster-lsf", "emworker_cluster_lsf.handler:ClusterLSFHandler")


@hookimpl
def emworker_plugin_settings() -> Mapping[str, str]:
    from .settings import DEFAULTS  # the keys the handler reads, so this cannot drift

    return {key: ABOUT.get(key, "(undocumented)") for key in DEFAULTS}
