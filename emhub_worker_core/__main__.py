"""``python -m emhub_worker_core`` is ``emworker``."""

from .cli import entry_point

if __name__ == "__main__":
    entry_point()
