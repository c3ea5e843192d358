"""Executors: one small interface (:class:`~.base.Executor`) for Slurm, LSF and local jobs."""

from __future__ import annotations

from pathlib import Path

from emhub_worker_core import Runner

from .base import Executor, ExecutorError
from .local import LocalExecutor
from .lsf import LsfExecutor
from .slurm import SlurmExecutor


def make_executor(name: str, runner: Runner, folder: Path, timeout: float) -> Executor:
    """The executor called ``name``; ``folder`` is the OTF folder (local jobs' files)."""
    if name == "slurm":
        return SlurmExecutor(runner, timeout)
    if name == "lsf":
        return LsfExecutor(runner, timeout)
    if name == "local":
        return LocalExecutor(folder)
    raise ExecutorError(f"unknown executor {name!r}")


__all__ = ["Executor", "ExecutorError", "make_executor"]
