#!/usr/bin/env bash
# Install what the browser test needs, only when missing: Debian's chromium and the
# playwright Python package (which drives that chromium; it never downloads a browser).
#
#     bash scripts/install-browser.sh [PIP]      # PIP defaults to .venv/bin/pip
set -euo pipefail

PIP="${1:-.venv/bin/pip}"
PYTHON="$(dirname "$PIP")/python"

if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "chromium is missing: run 'apt-get install -y chromium' as root" >&2; exit 1; }
        SUDO="sudo"
    fi
    echo "installing chromium (Debian package)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if ! "$PYTHON" -c "import playwright.sync_api" >/dev/null 2>&1; then
    echo "installing playwright (Python package only; the browser is Debian's chromium)"
    "$PIP" install --quiet --disable-pip-version-check "playwright>=1.40"
fi
