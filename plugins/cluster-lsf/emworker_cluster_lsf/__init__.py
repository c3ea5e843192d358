"""emworker plugin ``cluster-lsf``: report LSF queue, host and job state to EMhub."""

__version__ = "0.1.0"
