#!/usr/bin/env bash
# Install the real Nacos clients used by the integration tests (tests/real_clients.rs):
#   - Python venv at target/clients/venv with nacos-sdk-python 2.x (module `nacos`, HTTP v1 client)
#     and prometheus-client (its text parser checks the /nacos/actuator/prometheus exposition;
#     tests/metrics.rs)
#   - Python venv at target/clients/venv3 with nacos-sdk-python 3.x (module `v2.nacos`, gRPC client;
#     used by tests/grpc_python.rs)
#   - npm package `nacos` in target/clients/node/node_modules
#   - chromium, chromedriver and selenium for the console's browser test, through
#     scripts/setup-browser.sh (a failure there is only a warning here: the browser test runs
#     that script itself and fails on it, the client tests do not need a browser)
#
# Idempotent (a marker file records the installed versions) and safe to run
# concurrently from several processes (serialised with flock on target/clients/.lock).
set -euo pipefail

PY_SDK_VERSION="2.0.11"
PY3_SDK_VERSION="3.2.0"
NODE_SDK_VERSION="2.6.3"
PROM_CLIENT_VERSION="0.26.0"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
CLIENTS_DIR="$REPO_ROOT/target/clients"
VENV_DIR="$CLIENTS_DIR/venv"
VENV3_DIR="$CLIENTS_DIR/venv3"
NODE_DIR="$CLIENTS_DIR/node"
LOCK_FILE="$CLIENTS_DIR/.lock"
MARKER="$CLIENTS_DIR/.installed"
WANT="python:nacos-sdk-python==$PY_SDK_VERSION python:prometheus-client==$PROM_CLIENT_VERSION python3:nacos-sdk-python==$PY3_SDK_VERSION node:nacos@$NODE_SDK_VERSION"

die() {
    echo "setup-clients.sh: ERROR: $*" >&2
    exit 1
}

log() {
    echo "setup-clients.sh: $*" >&2
}

# Fast path without taking the lock.
if [[ -f "$MARKER" && "$(cat "$MARKER" 2>/dev/null)" == "$WANT" ]]; then
    exit 0
fi

command -v flock >/dev/null 2>&1 || die "'flock' not found (install util-linux)"
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found; Python 3 is required"
command -v node >/dev/null 2>&1 || die "'node' not found; Node.js is required"
command -v npm >/dev/null 2>&1 || die "'npm' not found; npm is required"

mkdir -p "$CLIENTS_DIR" || die "cannot create $CLIENTS_DIR"

exec 9>"$LOCK_FILE" || die "cannot open lock file $LOCK_FILE"
if ! flock -w 900 9; then
    die "timed out waiting for lock $LOCK_FILE"
fi

# Re-check under the lock: another process may have finished meanwhile.
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$WANT" ]]; then
    exit 0
fi
rm -f "$MARKER"

# ---------------------------------------------------------------- Python
py_ok() {
    [[ -x "$VENV_DIR/bin/python" ]] &&
        "$VENV_DIR/bin/python" - "$PY_SDK_VERSION" "$PROM_CLIENT_VERSION" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
import nacos  # noqa: F401
import prometheus_client.parser  # noqa: F401
ok = version("nacos-sdk-python") == sys.argv[1] and version("prometheus-client") == sys.argv[2]
sys.exit(0 if ok else 1)
EOF
}

if py_ok; then
    log "python: nacos-sdk-python==$PY_SDK_VERSION prometheus-client==$PROM_CLIENT_VERSION already installed"
else
    log "python: creating venv at $VENV_DIR"
    if [[ ! -x "$VENV_DIR/bin/python" ]]; then
        rm -rf "$VENV_DIR"
        "$PYTHON" -m venv "$VENV_DIR" ||
            die "'$PYTHON -m venv $VENV_DIR' failed (is the python3-venv package installed?)"
    fi
    log "python: installing nacos-sdk-python==$PY_SDK_VERSION prometheus-client==$PROM_CLIENT_VERSION"
    "$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --no-input -q \
        "nacos-sdk-python==$PY_SDK_VERSION" "prometheus-client==$PROM_CLIENT_VERSION" ||
        die "pip install nacos-sdk-python==$PY_SDK_VERSION prometheus-client==$PROM_CLIENT_VERSION failed"
    py_ok || die "nacos-sdk-python==$PY_SDK_VERSION or prometheus-client not importable after install"
fi

# ---------------------------------------------------------------- Python (SDK 3.x, gRPC)
py3_ok() {
    [[ -x "$VENV3_DIR/bin/python" ]] &&
        "$VENV3_DIR/bin/python" - "$PY3_SDK_VERSION" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
import v2.nacos  # noqa: F401
sys.exit(0 if version("nacos-sdk-python") == sys.argv[1] else 1)
EOF
}

if py3_ok; then
    log "python3: nacos-sdk-python==$PY3_SDK_VERSION already installed"
else
    log "python3: creating venv at $VENV3_DIR"
    if [[ ! -x "$VENV3_DIR/bin/python" ]]; then
        rm -rf "$VENV3_DIR"
        "$PYTHON" -m venv "$VENV3_DIR" ||
            die "'$PYTHON -m venv $VENV3_DIR' failed (is the python3-venv package installed?)"
    fi
    log "python3: installing nacos-sdk-python==$PY3_SDK_VERSION"
    "$VENV3_DIR/bin/python" -m pip install --disable-pip-version-check --no-input -q \
        "nacos-sdk-python==$PY3_SDK_VERSION" ||
        die "pip install nacos-sdk-python==$PY3_SDK_VERSION failed"
    py3_ok || die "nacos-sdk-python==$PY3_SDK_VERSION (module v2.nacos) not importable after install"
fi

# ---------------------------------------------------------------- Node
node_ok() {
    [[ -f "$NODE_DIR/node_modules/nacos/package.json" ]] &&
        (cd "$NODE_DIR" && NODE_PATH="$NODE_DIR/node_modules" node -e '
            const v = require("nacos/package.json").version;
            require("nacos");
            process.exit(v === process.argv[1] ? 0 : 1);' "$NODE_SDK_VERSION") >/dev/null 2>&1
}

if node_ok; then
    log "node: nacos@$NODE_SDK_VERSION already installed"
else
    log "node: installing nacos@$NODE_SDK_VERSION into $NODE_DIR"
    mkdir -p "$NODE_DIR"
    npm install --prefix "$NODE_DIR" "nacos@$NODE_SDK_VERSION" --no-audit --no-fund --loglevel=error ||
        die "npm install nacos@$NODE_SDK_VERSION failed"
    node_ok || die "nacos@$NODE_SDK_VERSION not loadable after install"
fi

echo "$WANT" >"$MARKER.tmp" && mv -f "$MARKER.tmp" "$MARKER" || die "cannot write $MARKER"
log "clients ready ($WANT)"

# ---------------------------------------------------------------- browser (console test)
if [[ "${NACORE_SKIP_BROWSER:-}" != "1" ]]; then
    bash "$SCRIPT_DIR/setup-browser.sh" ||
        log "WARNING: scripts/setup-browser.sh failed; tests/console_browser.rs will fail on it"
fi

# --- dns ---
# dig (Debian dnsutils) and dnspython (pinned there) for tests/dns.rs, which also runs the
# script itself and fails on it; here a failure is only a warning.
if [[ "${NACORE_SKIP_DNS:-}" != "1" ]]; then
    bash "$SCRIPT_DIR/setup-dns.sh" ||
        log "WARNING: scripts/setup-dns.sh failed; tests/dns.rs will fail on it"
fi
