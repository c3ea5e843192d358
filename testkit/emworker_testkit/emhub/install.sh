#!/usr/bin/env bash
# Installs what the real-EMhub test fixture needs, once; quick (well under a second) when
# everything is already there:
#   * Debian's redis-server (apt; the postinst does not start it, the fixture does),
#   * a virtual environment with EMhub 1.0.2 and the minimal runtime set that runs it.
# EMhub's own pins need numpy 1.23.0, which has no wheel for Python 3.11 (a 7-minute
# compile), so emhub goes in with --no-deps plus the packages its server really imports.
# Usage: install.sh VENV_DIR        (prints nothing on success unless it installed something)
set -euo pipefail

VENV=${1:?usage: install.sh VENV_DIR}
PYTHON=${EMHUB_PYTHON:-python3}
# Bounds, each one needed (see the protocol notes): Flask-Markdown imports flask.Markup
# (gone in Flask 3); EMhub hashes with method='sha256' (gone in Werkzeug 3); EMhub passes
# charset= to redis.StrictRedis (gone in redis-py 6).
RUNTIME=("flask<3" "werkzeug<3" flask-login flask-mail flask-markdown sqlalchemy
         sqlalchemy-utc pyjwt tzlocal emtools "redis<6" requests)
STAMP="$VENV/.emworker-harness-stamp"
WANT="emhub==1.0.2 ${RUNTIME[*]}"

if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "emhub harness: redis-server is missing and cannot be installed here" >&2
        exit 3
    fi
    export DEBIAN_FRONTEND=noninteractive
    echo "emhub harness: installing redis-server (apt)" >&2
    if ! apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 \
            redis-server >/dev/null; then
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 \
            redis-server >/dev/null
    fi
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/flask" ]; then
    exit 0
fi
echo "emhub harness: building $VENV (about 30 s)" >&2
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
"${PIP[@]}" --upgrade pip >/dev/null
"${PIP[@]}" --no-deps emhub==1.0.2
"${PIP[@]}" "${RUNTIME[@]}"
"$VENV/bin/python" -c "import emhub, flask, redis, jwt, flaskext.markdown" \
    || { echo "emhub harness: the EMhub venv does not import" >&2; exit 4; }
echo "$WANT" > "$STAMP"
