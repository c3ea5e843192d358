#!/usr/bin/env bash
# The main job on the embedded local task source, no server needed: installs emworker with
# its built-in plugins into .venv, builds a small demo frames folder under .demo/, and runs
# the demo tasks (watch the frames folder, transfer a session, echo) to their end.
# Events are written as JSON lines to .demo/events.jsonl (and summarised on the terminal).
set -euo pipefail
cd "$(dirname "$0")/.."

# pip's build chatter goes to a log; it is shown only when an install fails
quiet() { mkdir -p .test-run; "$@" >.test-run/install.log 2>&1 || { cat .test-run/install.log; return 1; }; }

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
plugin_args=()
for plugin in plugins/*/ contrib/echo-plugin/; do
    [ -f "$plugin/pyproject.toml" ] && plugin_args+=(-e "$plugin")
done
quiet .venv/bin/python -m pip install -q --disable-pip-version-check -e . "${plugin_args[@]}"
.venv/bin/python examples/make_demo.py .demo
.venv/bin/emworker plugins list
status=0
.venv/bin/emworker --config .demo/config.toml run --local .demo/tasks.toml --iterations 16 \
    --events .demo/events.jsonl || status=$?
.venv/bin/python examples/summarize_events.py .demo/events.jsonl
exit $status
