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
# Each distribution is built from a copy of what goes into it (its top-level files and its
# packages): setuptools builds in the source's own build/ and packs whatever build/lib holds,
# even a module since deleted, and two builds of one checkout would share that folder.
copies=()
for dist in "${dists[@]}"; do
    copy="$builder/src/${#copies[@]}"
    mkdir -p "$copy"
    find "$dist" -maxdepth 1 -type f -exec cp {} "$copy/" \;
    for package in "$dist"/emhub_worker_core "$dist"/emworker_*; do
        case $package in *.egg-info) continue ;; esac
        if [ -d "$package" ]; then cp -r "$package" "$copy/"; fi
    done
    find "$copy" -name __pycache__ -prune -exec rm -rf {} +
    copies+=("$copy")
done
# Build isolation on: each distribution is built with the setuptools its pyproject.toml asks
# for, in the throwaway environment.
TMPDIR="$builder" "$builder/venv/bin/python" -m pip wheel -q --disable-pip-version-check \
    --wheel-dir "$out" "${copies[@]}"
echo "wheelhouse $out:"
ls -1 "$out"
