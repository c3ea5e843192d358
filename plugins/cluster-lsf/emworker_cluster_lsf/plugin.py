"""Entry point of the ``cluster-lsf`` plugin. Handlers are named, not imported: listing
plugins must not pay for them."""

from __future__ import annotations

from emhub_worker_core import RegisterTask, hookimpl


@hookimpl
def emworker_register_tasks(register: RegisterTask) -> None:
    register("cluster-lsf", "emworker_cluster_lsf.handler:ClusterLSFHandler")


@hookimpl
def emworker_plugin_settings() -> type:
    from .settings import LSFSettings  # the declaration the handler reads by

    return LSFSettings
