#!/usr/bin/env bash
# One entry point for a fresh Debian machine (Python 3.11, Node.js 20):
#   ./run.sh demo [serve.py options]   set up, build the browser runtime, start the demo
#   ./run.sh test [pytest options]     set up (including Debian's chromium) and run every test
# Setup is idempotent: re-running only does what changed.
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
VENV=.venv

setup_python() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
    fi
    local stamp="$VENV/.installed"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
        "$VENV/bin/pip" install --quiet --disable-pip-version-check -c requirements.lock -e ".[test]"
        touch "$stamp"
    fi
}

setup_node() {
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error
    fi
}

build_static() {
    "$VENV/bin/python" -m pyapp.build
}

setup_chromium() {
    if [ ! -x /usr/bin/chromium ]; then
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
}

setup_postgres() {
    # The orchestration tests start a throwaway cluster with these binaries (they fail, never
    # skip, if the server is missing).
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
}

setup_redis() {
    # The Synapse-with-workers tests start a throwaway redis-server for replication (they
    # fail, never skip, if it is missing).
    if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    fi
}

cmd=${1:-}
shift || true
case "$cmd" in
    demo)
        setup_python; setup_node; build_static
        exec "$VENV/bin/python" serve.py "$@"
        ;;
    test)
        setup_python; setup_node; setup_chromium; setup_postgres; setup_redis; build_static
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    *)
        echo "usage: ./run.sh demo|test [options]" >&2
        exit 2
        ;;
esac
