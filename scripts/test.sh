#!/usr/bin/env bash
# The whole test suite, from a fresh clone: virtual environment, core and every built-in
# plugin, system packages (Redis, Slurm, rsync, systemd tools), then pytest. The real
# servers the tests need (EMhub + Redis, Slurm) are started and stopped by the test fixtures.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k slurm -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

# pip's build chatter goes to a log; it is shown only when an install fails
quiet() { mkdir -p .test-run; "$@" >.test-run/install.log 2>&1 || { cat .test-run/install.log; return 1; }; }

PYTHON=${PYTHON:-python3}
# The pinned type checker (requirements/test-pins.txt: mypy 2.4.1) needs Python 3.10+;
# emworker itself runs on 3.9 (scripts/demo.sh).
python=.venv/bin/python; [ -x "$python" ] || python=$PYTHON
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
    echo "scripts/test.sh needs Python 3.10 or newer for mypy 2.4.1 (found $("$python" --version 2>&1));" \
         "remove .venv and set PYTHON=python3.10 or newer" >&2; exit 2; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
quiet .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel
plugin_args=()
for plugin in plugins/*/; do
    [ -f "$plugin/pyproject.toml" ] && plugin_args+=(-e "$plugin")
done
# testkit/: the real-server fixtures (EMhub + Redis, Slurm), a pytest plugin of its own
quiet .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,docs]' \
    -r requirements/test-pins.txt -e testkit \
    "${plugin_args[@]}"
bash scripts/system-deps.sh
# One process by default. EMWORKER_TEST_WORKERS=2 runs two pytest-xdist workers (about 5 min
# instead of 8), but the kit's real-server group does not yet keep those tests on one worker
# (xdist adds no group to their node ids), so two real-server tests can meet on one machine
# resource (a session's local OTF job, the Slurm lock): not yet safe for CI.
workers=${EMWORKER_TEST_WORKERS:-0}
if [ "$workers" = 0 ]; then exec .venv/bin/python -m pytest "$@"; fi
exec .venv/bin/python -m pytest -n "$workers" --dist loadgroup "$@"
