#!/usr/bin/env bash
# The browser suites (tests/browser/test_*.py): headless Chromium against a native host on the demo
# tenant, JavaScript on and off, screenshots under target/screenshots/. Installs what it needs
# (FreeRADIUS for the captive suite's last leg: radius-sql/tests/setup.sh; without it that leg
# skips, or fails if KONNEKTED_REQUIRE_FREERADIUS is set, as scripts/test.sh does).
# One file or test: scripts/browser-tests.sh test_captive.py [-k chap]
set -euo pipefail
cd "$(dirname "$0")/.."
py="$(scripts/browser-setup.sh | tail -1)"
cargo build -p konnekted -p konnekted-radius --features konnekted/demo
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
export CARGO_TARGET_DIR="${target_dir:-target}"
# A private copy: another checkout sharing the target folder may rebuild target/debug/konnekted.
bin_dir="$CARGO_TARGET_DIR/browser-bin/$(pwd | cksum | cut -d' ' -f1)"
mkdir -p "$bin_dir"
cp "$CARGO_TARGET_DIR/debug/konnekted" "$bin_dir/konnekted"
cp "$CARGO_TARGET_DIR/debug/konnekted-radius" "$bin_dir/konnekted-radius"
export KONNEKTED_BIN="$bin_dir/konnekted"
export KONNEKTED_RADIUS_BIN="$bin_dir/konnekted-radius"
cd tests/browser
# -rs: a skipped test or leg says why.
exec "$py" -m pytest -q -rs -p no:cacheprovider "$@"
