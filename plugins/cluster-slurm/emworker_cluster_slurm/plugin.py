"""Entry point of the ``cluster-slurm`` plugin."""

from __future__ import annotations

from emhub_worker_core import RegisterTask, hookimpl

from .handler import ClusterSlurmHandler


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("cluster-slurm", ClusterSlurmHandler)
