"""Logging set-up: rich on a terminal, plain one-line records elsewhere (journald, files)."""

from __future__ import annotations

import functools
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported only when a person is watching (a terminal)
    from rich.console import Console

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@functools.lru_cache(maxsize=None)
def stderr_console() -> Console:
    """The stderr console shared by log records and live displays, so they do not collide."""
    from rich.console import Console

    return Console(stderr=True)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def setup_logging(level: str = "INFO") -> None:
    """Send emworker's logs to stderr, once; rich only when a person is watching."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    output: logging.Handler
    if stderr_is_terminal():
        from rich.logging import RichHandler

        # markup=False: log messages carry file names and server text we do not control
        output = RichHandler(console=stderr_console(), markup=False, show_path=False)
        output.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        output = logging.StreamHandler(sys.stderr)
        output.setFormatter(logging.Formatter(PLAIN_FORMAT))
    root.addHandler(output)
    try:
        root.setLevel(level.upper())
    except ValueError:
        root.setLevel(logging.INFO)
        logging.getLogger("emworker").warning("unknown log level %r; using INFO", level)
    for noisy in ("urllib3", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
