#!/usr/bin/env bash
# The browser suites (tests/browser/test_*.py): headless Chromium against a native host on the demo
# tenant, JavaScript on and off, screenshots under target/screenshots/. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
py="$(scripts/browser-setup.sh | tail -1)"
cargo build -p konnekted --features demo
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
export KONNEKTED_BIN="${target_dir:-target}/debug/konnekted"
export CARGO_TARGET_DIR="${target_dir:-target}"
rm -rf "${CARGO_TARGET_DIR}/screenshots"
cd tests/browser
exec "$py" -m pytest -q -p no:cacheprovider "$@"
