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
# Two pytest-xdist workers by default (this kind of machine has two cores), EMWORKER_TEST_WORKERS=0
# for one process. The kit keeps the real-server tests in order on one worker (its
# `real-servers` group), so two of them never meet on a machine-wide resource (a session's
# local OTF job, the Slurm daemons); it stops a run in which xdist lost the group.
workers=${EMWORKER_TEST_WORKERS:-2}
if [ "$workers" = 0 ]; then exec .venv/bin/python -m pytest "$@"; fi
exec .venv/bin/python -m pytest -n "$workers" --dist loadgroup "$@"
