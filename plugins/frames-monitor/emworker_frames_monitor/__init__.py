"""emworker plugin ``frames-monitor``: the raw frames folder, summarised live for EMhub."""

__version__ = "0.1.0"
