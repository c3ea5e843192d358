"""The plugin contract: what a plugin's code meets (the handler base class, the task, events,
errors, the hooks, the EMhub services and the command runner a handler may call, the
plugin-API version and its compatibility check).

Imports only :mod:`emhub_worker_core.guard`-level code below it, nothing of the host. Plugins
import these names from :mod:`emhub_worker_core` itself, never from here.
"""
