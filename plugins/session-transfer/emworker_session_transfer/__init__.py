"""emworker plugin ``session-transfer``: a session's frames moved to storage, verified."""

__version__ = "0.1.0"
