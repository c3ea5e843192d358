"""A plugin that cannot be imported: it needs a module nobody installed."""

import emworker_missing_dependency  # noqa: F401
