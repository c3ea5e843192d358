"""Entry point of the ``cluster-slurm`` plugin. Handlers are named, not imported: listing
plugins must not pay for them."""

from __future__ import annotations

from typing import Mapping

from emhub_worker_core import RegisterTask, hookimpl

ABOUT = {
    "partitions": "report exactly these partitions (list or comma-separated)",
    "pattern": "partition names containing this are reported (default 'cryo')",
    "period": "seconds between two snapshots (default 30)",
    "mode": "how to read Slurm: auto, json or text (default auto)",
    "timeout": "seconds each Slurm command may take (default 20)",
    "slurm_conf": "SLURM_CONF for the Slurm commands (another cluster's slurm.conf)",
}


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("cluster-slurm", "emworker_cluster_slurm.handler:ClusterSlurmHandler")


@hookimpl
def emworker_plugin_settings() -> Mapping[str, str]:
    from .settings import CONFIG_KEYS  # the keys Settings reads, so this cannot drift

    return {key: ABOUT.get(key, "(undocumented)") for key in CONFIG_KEYS}
