"""Entry point of the ``cluster-lsf`` plugin."""

from __future__ import annotations

from emhub_worker_core import RegisterTask, hookimpl

from .handler import ClusterLSFHandler


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("cluster-lsf", ClusterLSFHandler)
