#!/usr/bin/env bash
# Installs what the browser suites need: Debian's chromium and chromium-driver, and a Python
# virtualenv (under the target folder) with selenium and pytest. Idempotent; prints the venv's python.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
    sudo_ apt-get update -qq >/dev/null
    sudo_ apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null
fi
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
venv="$(cd "$target_dir" && pwd)/browser-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import selenium, pytest" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "selenium>=4.20,<5" "pytest>=8,<9"
fi
echo "$venv/bin/python"
