#!/bin/sh
# The batch script emworker's session-otf submits: it runs its arguments as one argv.
# Fixed content, no task data: the workflow's argv reaches it as positional arguments,
# which "$@" passes on unchanged (never re-split, never through a shell).
exec "$@"
