"""The package version, in a module of its own so ``emworker --version`` imports nothing else."""

__version__ = "0.1.0"
