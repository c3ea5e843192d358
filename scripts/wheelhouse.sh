#!/usr/bin/env bash
# Build every distribution of this repository (the core, each plugins/*/ and the echo
# example) into one folder of wheels, together with the wheels of everything they depend
# on, so that a site installs exactly the plugins it wants, offline if need be:
#
#     pip install --no-index --find-links wheelhouse emworker-frames-monitor
#
# (pip then finds emhub-worker-core and every other dependency in the wheelhouse; nothing
# is looked up on a package index, so a same-named package there cannot be picked up.)
#
# Usage: bash scripts/wheelhouse.sh [DIR]    (default DIR: ./wheelhouse)
# The dependency wheels are for this machine's Python version and platform: build the
# wheelhouse with the Python the site will run (PYTHON=python3.X).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-wheelhouse}
PYTHON=${PYTHON:-python3}
dists=(.)
for dist in plugins/*/ contrib/echo-plugin/; do
    [ -f "$dist/pyproject.toml" ] && dists+=("$dist")
done

# A throwaway virtual environment for pip: Debian's python3 may have none of its own.
builder=$(mktemp -d)
trap 'rm -rf "$builder"' EXIT
"$PYTHON" -m venv "$builder/venv"
"$builder/venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
mkdir -p "$out"
# setuptools builds in each distribution's own build/ folder and packs whatever build/lib
# holds, even a module since deleted from the source: clear it before and after.
clear_build() { for dist in "${dists[@]}"; do rm -rf "$dist/build"; done; }
trap 'clear_build; rm -rf "$builder"' EXIT
clear_build
# Build isolation on: each distribution is built with the setuptools its pyproject.toml asks
# for, in the throwaway environment.
TMPDIR="$builder" "$builder/venv/bin/python" -m pip wheel -q --disable-pip-version-check \
    --wheel-dir "$out" "${dists[@]}"
echo "wheelhouse $out:"
ls -1 "$out"
