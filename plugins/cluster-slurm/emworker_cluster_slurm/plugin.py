"""Entry point of the ``cluster-slurm`` plugin. Handlers are named, not imported: listing
plugins must not pay for them."""

from __future__ import annotations

from emhub_worker_core import RegisterTask, hookimpl


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("cluster-slurm", "emworker_cluster_slurm.handler:ClusterSlurmHandler")


@hookimpl
def emworker_plugin_settings() -> type:
    from .settings import Settings  # the declaration the handler reads by

    return Settings
