"""Session fixtures for real servers (EMhub + Redis, Slurm). Filled in by their harnesses."""

from tests.harness.emhub_server import emhub_server

__all__ = ["emhub_server"]
