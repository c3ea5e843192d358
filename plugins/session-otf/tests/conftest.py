"""Fixtures and helpers of the session-otf tests."""

from __future__ import annotations

import sys
from pathlib import Path

# scenario.py (the end-to-end helper) sits next to the tests that import it.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from otf_fakes import site  # noqa: E402,F401 - the fixture, for every test module here
