"""Real servers for emworker's tests: EMhub 1.0.2 + Redis, a single-node Slurm cluster.

Installed, this distribution is a pytest plugin (entry point ``pytest11``): its session
fixtures ``emhub_server`` and ``slurm_cluster`` and the markers ``emhub``, ``slurm`` and
``slow`` are there for the core's tests and for every plugin's, run from any folder.
See docs/testing-kit.rst.
"""

__version__ = "0.1.0"
