#!/usr/bin/env bash
# Install what the web console's browser test (tests/console_browser.rs) needs:
#   - Debian packages `chromium` and `chromium-driver` (apt-get, as root or through `sudo -n`)
#   - PyPI `selenium` (pinned) into the Python venv target/clients/venv made by setup-clients.sh
#
# Idempotent (a marker file records the installed versions) and safe to run concurrently
# (serialised with flock on target/clients/.browser.lock). Fails with a clear message when
# chromium cannot be installed: the browser test must not pass silently without a browser.
set -euo pipefail

SELENIUM_VERSION="4.43.0"
# selenium 4.43 accepts typing-extensions>=4.15; pydantic (nacos-sdk-python) wants >=4.16.
TYPING_EXTENSIONS_MIN="4.16"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
CLIENTS_DIR="$REPO_ROOT/target/clients"
VENV_DIR="$CLIENTS_DIR/venv"
LOCK_FILE="$CLIENTS_DIR/.browser.lock"
MARKER="$CLIENTS_DIR/.browser-installed"
WANT="apt:chromium,chromium-driver python:selenium==$SELENIUM_VERSION"

die() {
    echo "setup-browser.sh: ERROR: $*" >&2
    exit 1
}

log() {
    echo "setup-browser.sh: $*" >&2
}

browser_ok() {
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1
}

selenium_ok() {
    [[ -x "$VENV_DIR/bin/python" ]] &&
        "$VENV_DIR/bin/python" - "$SELENIUM_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
import selenium.webdriver  # noqa: F401
sys.exit(0 if version("selenium") == sys.argv[1] else 1)
PY
}

# Fast path without taking the lock.
if [[ -f "$MARKER" && "$(cat "$MARKER" 2>/dev/null)" == "$WANT" ]] && browser_ok; then
    exit 0
fi

command -v flock >/dev/null 2>&1 || die "'flock' not found (install util-linux)"
[[ -x "$VENV_DIR/bin/python" ]] ||
    die "no Python venv at $VENV_DIR: run scripts/setup-clients.sh first"
mkdir -p "$CLIENTS_DIR"
exec 8>"$LOCK_FILE" || die "cannot open lock file $LOCK_FILE"
flock -w 900 8 || die "timed out waiting for lock $LOCK_FILE"
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$WANT" ]] && browser_ok; then
    exit 0
fi
rm -f "$MARKER"

# ---------------------------------------------------------------- chromium (apt)
if browser_ok; then
    log "chromium and chromedriver already installed"
else
    if [[ "$(id -u)" == "0" ]]; then
        AS_ROOT=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        AS_ROOT=(sudo -n)
    else
        die "chromium/chromedriver are missing and this user can neither run apt-get as root nor sudo -n; install the Debian packages 'chromium' and 'chromium-driver' (or set NACORE_SKIP_BROWSER=1 to skip the browser test locally)"
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "chromium is missing and apt-get is not available: install chromium and its driver by hand"
    log "apt-get: installing chromium chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    if ! "${AS_ROOT[@]}" apt-get install -y -q --no-install-recommends chromium chromium-driver; then
        log "apt-get install failed; updating the package lists and retrying"
        "${AS_ROOT[@]}" apt-get update -q || die "apt-get update failed"
        "${AS_ROOT[@]}" apt-get install -y -q --no-install-recommends chromium chromium-driver ||
            die "apt-get install chromium chromium-driver failed"
    fi
    browser_ok || die "chromium or chromedriver not on PATH after apt-get install"
fi

# ---------------------------------------------------------------- selenium (pip)
if selenium_ok; then
    log "python: selenium==$SELENIUM_VERSION already installed"
else
    log "python: installing selenium==$SELENIUM_VERSION into $VENV_DIR"
    "$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --no-input -q \
        "selenium==$SELENIUM_VERSION" "typing-extensions>=$TYPING_EXTENSIONS_MIN" ||
        die "pip install selenium==$SELENIUM_VERSION failed"
    selenium_ok || die "selenium==$SELENIUM_VERSION not importable after install"
fi

echo "$WANT" >"$MARKER.tmp" && mv -f "$MARKER.tmp" "$MARKER" || die "cannot write $MARKER"
log "browser ready ($WANT)"
