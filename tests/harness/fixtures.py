"""Session fixtures for real servers (EMhub + Redis, Slurm). Filled in by their harnesses."""

from tests.harness.emhub_server import emhub_server
from tests.harness.slurm_cluster import slurm_cluster  # noqa: F401  (session fixture)

__all__ = ["emhub_server"]
