"""The core's version and the plugin API it implements (one place, read by packaging too)."""

#: The version of the ``emhub-worker-core`` distribution.
__version__ = "0.1.0"

#: The plugin API this core implements: the ``MAJOR.MINOR`` of :data:`__version__` (0.x
#: releases may change the contract in a minor release; patch releases never do). A
#: plugin built for it declares ``emhub-worker-core>=0.1,<0.2`` in its dependencies; the
#: core refuses a plugin whose declared range does not contain this core's version.
PLUGIN_API = ".".join(__version__.split(".")[:2])
