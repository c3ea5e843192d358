#!/usr/bin/env bash
# Installs the Debian packages the test suite and benchmarks use, once (idempotent, quick
# when everything is there). Run as root on Debian 12; elsewhere it says what is missing.
set -euo pipefail

# b3sum: the checksum script baseline of bench/transfer_bench.py.
# curl: the quick start's API calls, run as written by tests/test_docs_examples.py.
# chromium-headless-shell: the browser of tests/test_emhub_pages.py (driven by the pinned
# playwright, which never downloads one); npm installs that test's local copies of the
# scripts EMhub's pages load from CDNs (tests/harness/cdn/package-lock.json): Debian's,
# unless an npm is already there (a NodeSource nodejs has its own, and conflicts).
PACKAGES=(redis-server rsync b3sum slurmctld slurmd slurm-client munge systemd
          chromium-headless-shell curl)
command -v npm >/dev/null || PACKAGES+=(nodejs npm)

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "system-deps: missing ${missing[*]} and cannot apt-get install them here;" \
         "the tests that need them will skip (and fail when CI=true)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
install() {
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 "${missing[@]}"
}
echo "system-deps: installing ${missing[*]}" >&2
if ! install >/dev/null; then
    apt-get update -q >/dev/null
    install >/dev/null
fi
