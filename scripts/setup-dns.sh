#!/usr/bin/env bash
# Install what the DNS tests (tests/dns.rs) need:
#   - Debian package `dnsutils` (dig), through apt-get as root or `sudo -n`
#   - PyPI `dnspython` (pinned) into the Python venv target/clients/venv made by
#     scripts/setup-clients.sh (which it runs first when the venv is missing)
# With `--bench` it also installs `dnsperf` and `dnsmasq` for loadgen/dns-bench.sh.
#
# Idempotent (a marker file records what is installed) and safe to run concurrently
# (serialised with flock on target/clients/.dns.lock). Fails loudly: the DNS tests must not
# pass without a real resolver.
set -euo pipefail

DNSPYTHON_VERSION="2.7.0"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
CLIENTS_DIR="$REPO_ROOT/target/clients"
VENV_DIR="$CLIENTS_DIR/venv"
LOCK_FILE="$CLIENTS_DIR/.dns.lock"
MARKER="$CLIENTS_DIR/.dns-installed"
PACKAGES=(dnsutils)
if [[ "${1:-}" == "--bench" ]]; then
    PACKAGES+=(dnsperf dnsmasq)
fi
WANT="apt:${PACKAGES[*]} python:dnspython==$DNSPYTHON_VERSION"

die() {
    echo "setup-dns.sh: ERROR: $*" >&2
    exit 1
}

log() {
    echo "setup-dns.sh: $*" >&2
}

tools_ok() {
    command -v dig >/dev/null 2>&1 || return 1
    if [[ "${1:-}" == "--bench" ]]; then
        command -v dnsperf >/dev/null 2>&1 || return 1
        command -v dnsmasq >/dev/null 2>&1 || [[ -x /usr/sbin/dnsmasq ]] || return 1
    fi
}

dnspython_ok() {
    [[ -x "$VENV_DIR/bin/python" ]] &&
        "$VENV_DIR/bin/python" - "$DNSPYTHON_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
import dns.resolver  # noqa: F401
sys.exit(0 if version("dnspython") == sys.argv[1] else 1)
PY
}

if [[ -f "$MARKER" && "$(cat "$MARKER" 2>/dev/null)" == "$WANT" ]] && tools_ok "${1:-}"; then
    exit 0
fi

if [[ ! -x "$VENV_DIR/bin/python" ]]; then
    NACORE_SKIP_BROWSER=1 NACORE_SKIP_DNS=1 bash "$SCRIPT_DIR/setup-clients.sh" ||
        die "scripts/setup-clients.sh failed (the venv dnspython goes into)"
fi
command -v flock >/dev/null 2>&1 || die "'flock' not found (install util-linux)"
mkdir -p "$CLIENTS_DIR"
exec 7>"$LOCK_FILE" || die "cannot open lock file $LOCK_FILE"
flock -w 900 7 || die "timed out waiting for lock $LOCK_FILE"
rm -f "$MARKER"

# ---------------------------------------------------------------- dig & co (apt)
if tools_ok "${1:-}"; then
    log "${PACKAGES[*]} already installed"
else
    if [[ "$(id -u)" == "0" ]]; then
        AS_ROOT=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        AS_ROOT=(sudo -n)
    else
        die "${PACKAGES[*]} missing and this user can neither run apt-get as root nor sudo -n; install the Debian packages '${PACKAGES[*]}'"
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get is not available: install ${PACKAGES[*]} by hand"
    log "apt-get: installing ${PACKAGES[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! "${AS_ROOT[@]}" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"; then
        log "apt-get install failed; updating the package lists and retrying"
        "${AS_ROOT[@]}" apt-get update -q || die "apt-get update failed"
        "${AS_ROOT[@]}" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" ||
            die "apt-get install ${PACKAGES[*]} failed"
    fi
    tools_ok "${1:-}" || die "${PACKAGES[*]} not on PATH after apt-get install"
fi

# ---------------------------------------------------------------- dnspython (pip)
if dnspython_ok; then
    log "python: dnspython==$DNSPYTHON_VERSION already installed"
else
    log "python: installing dnspython==$DNSPYTHON_VERSION into $VENV_DIR"
    "$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --no-input -q \
        "dnspython==$DNSPYTHON_VERSION" || die "pip install dnspython==$DNSPYTHON_VERSION failed"
    dnspython_ok || die "dnspython==$DNSPYTHON_VERSION not importable after install"
fi

echo "$WANT" >"$MARKER.tmp" && mv -f "$MARKER.tmp" "$MARKER" || die "cannot write $MARKER"
log "dns tools ready ($WANT)"
