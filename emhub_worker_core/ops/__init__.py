"""The operating parts of a worker process: its configuration, logging, state file, run
lock, systemd notifications and exit codes.

Imports the contract and the guard, nothing of the task sources, the host or the CLI.
"""
