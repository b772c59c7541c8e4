#!/usr/bin/env bash
# The browser suites (tests/browser/test_*.py): headless Chromium against a native host on the demo
# tenant, JavaScript on and off, screenshots under target/screenshots/. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
py="$(scripts/browser-setup.sh | tail -1)"
cargo build -p konnekted --features demo
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
export CARGO_TARGET_DIR="${target_dir:-target}"
# A private copy: another checkout sharing the target folder may rebuild target/debug/konnekted.
bin_dir="$CARGO_TARGET_DIR/browser-bin/$(pwd | cksum | cut -d' ' -f1)"
mkdir -p "$bin_dir"
cp "$CARGO_TARGET_DIR/debug/konnekted" "$bin_dir/konnekted"
export KONNEKTED_BIN="$bin_dir/konnekted"
cd tests/browser
exec "$py" -m pytest -q -p no:cacheprovider "$@"
