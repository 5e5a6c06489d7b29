#!/usr/bin/env bash
# Installs fitboard with its test extras into the active virtualenv (else ./.venv, created if
# missing) and runs the whole suite, every marker included: browser tests drive
# /usr/bin/chromium, postgres tests start a throwaway server from /usr/lib/postgresql/*/bin
# (or use $FITBOARD_TEST_POSTGRES_URL). Extra arguments go to pytest, e.g. -m "not browser".
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${VIRTUAL_ENV:-}" ]]; then
    python="$VIRTUAL_ENV/bin/python"
else
    [[ -x .venv/bin/python ]] || python3 -m venv .venv
    python=.venv/bin/python
fi

echo "test.sh: installing fitboard[test] into $("$python" -c 'import sys; print(sys.prefix)')"
"$python" -m pip install --quiet --disable-pip-version-check -e '.[test]'

# A missing prerequisite is not skipped: its tests fail. Say so up front, with the fix.
chromium="${FITBOARD_TEST_CHROMIUM:-/usr/bin/chromium}"

# On a fresh Debian machine, as root, install the system packages the suite drives (a real
# Chromium, PostgreSQL's server binaries, docker-compose to validate the compose file).
# FITBOARD_TEST_NO_APT=1 opts out; without root or apt-get the checks below say what is missing.
need=()
[[ -x "$chromium" ]] || need+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null \
    || [[ -n "${FITBOARD_TEST_POSTGRES_URL:-}" ]] || need+=(postgresql)
command -v docker-compose >/dev/null || need+=(docker-compose)
if ((${#need[@]})) && [[ -z "${FITBOARD_TEST_NO_APT:-}" ]] && [[ $EUID == 0 ]] \
    && command -v apt-get >/dev/null; then
    echo "test.sh: installing ${need[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need[@]}"
fi

missing=0
if [[ ! -x "$chromium" ]]; then
    echo "test.sh: MISSING Chromium at $chromium: browser tests will fail." \
        "Install it (apt-get install chromium) or add -m 'not browser'." >&2
    missing=1
fi
if [[ -z "${FITBOARD_TEST_POSTGRES_URL:-}" ]] \
    && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
    && ! command -v initdb >/dev/null; then
    echo "test.sh: MISSING PostgreSQL (initdb/pg_ctl): postgres tests will fail." \
        "Install it (apt-get install postgresql), set FITBOARD_TEST_POSTGRES_URL," \
        "or add -m 'not postgres'." >&2
    missing=1
fi
if ! command -v docker-compose >/dev/null; then
    echo "test.sh: MISSING docker-compose: compose tests will fail." \
        "Install it (apt-get install docker-compose) or add -m 'not compose'." >&2
    missing=1
fi
if [[ $missing == 0 ]]; then
    echo "test.sh: prerequisites found: Chromium ($chromium), PostgreSQL, docker-compose"
fi

exec "$python" -m pytest "$@"
