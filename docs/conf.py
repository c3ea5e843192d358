"""Sphinx configuration for the emworker documentation (built with -W in the test suite)."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "emworker"
author = "emworker developers"
extensions = ["sphinx.ext.autodoc"]
autodoc_member_order = "bysource"
autodoc_typehints = "none"
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False
