#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this). Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's wall time, printed at the end (CI stops at 90 minutes; the budget is about 45).
step_names=()
step_secs=()
step_now=""
step_t0=$SECONDS
step_end() {
  if [ -n "$step_now" ]; then
    step_names+=("$step_now")
    step_secs+=($((SECONDS - step_t0)))
  fi
  step_now=""
}
step() {
  step_end
  step_now="$*"
  step_t0=$SECONDS
  printf '\n==> %s\n' "$*"
}
step_times() {
  step_end
  echo
  echo "step times (wall clock):"
  local i
  for i in "${!step_names[@]}"; do
    printf '  %5d s  %s\n' "${step_secs[$i]}" "${step_names[$i]:0:100}"
  done
  printf '  %5d s  in all\n' "$SECONDS"
}

# The disk is shared with whatever else runs on the machine: say how much there is at the start and the end, and
# warn early when it looks too little (a CI run once stopped an hour in on "No space left on device").
disk_report() { df -h . | tail -1 | awk '{print "disk: " $4 " free of " $2 " (" $5 " used)"}'; }
step "disk"
disk_report
free_kb=$(df -Pk . | tail -1 | awk '{print $4}')
if [ "$free_kb" -lt $((15 * 1024 * 1024)) ]; then
  echo "warning: less than 15 GiB free here; a clean build and the suites may need about that much" >&2
fi
trap 'step_times; disk_report' EXIT

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "edge adapters (outside the workspace): format and lints, unwrap/expect/panic denied"
# Linting them compiles the platform-neutral core (and daraja, sync-proto) for both edge targets, wasm32-unknown-unknown
# (Workers) and wasm32-wasip2 (Spin): a separate `cargo check` of the core for them added minutes and nothing else.
rustup target add wasm32-unknown-unknown wasm32-wasip2 >/dev/null 2>&1 || true
# Their Cargo.toml deny clippy::unwrap_used, expect_used and panic: a panic kills the isolate.
cargo fmt --manifest-path functions/workers/Cargo.toml -- --check
cargo fmt --manifest-path functions/spin/Cargo.toml -- --check
cargo clippy --manifest-path functions/workers/Cargo.toml --target wasm32-unknown-unknown --all-targets -- -D warnings
cargo clippy --manifest-path functions/spin/Cargo.toml --target wasm32-wasip2 --all-targets -- -D warnings
cargo clippy --manifest-path functions/spin/Cargo.toml --target wasm32-wasip2 --all-targets \
    --no-default-features --features local -- -D warnings

if [ -x radius-sql/tests/setup.sh ]; then
  step "FreeRADIUS for the RADIUS suites"
  radius-sql/tests/setup.sh
  export KONNEKTED_REQUIRE_FREERADIUS=1
fi

step "userspace WireGuard for the tunnel test (reconciler/daemon/tests/wireguard.rs)"
if ! command -v wireguard-go >/dev/null || ! command -v wg >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wireguard-go wireguard-tools >/dev/null
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q wireguard-go wireguard-tools >/dev/null
  fi
fi
if [ "$(id -u)" = 0 ]; then export KONNEKTED_REQUIRE_WIREGUARD=1; fi

step "npm packages (the card tests check our Stripe signatures with Stripe's official library)"
[ -e node_modules/stripe/package.json ] || npm ci --no-audit --no-fund --omit-lockfile-registry-resolved >/dev/null
export KONNEKTED_REQUIRE_STRIPE_SDK=1

step "unit, integration and end-to-end tests (native host)"
cargo test --workspace --all-features --no-fail-fast

step "reconciler container: static musl binaries, an OCI image from scratch (buildah), run as uid 65532 with a read-only config"
# Release-grade binaries (Cargo.toml's `container` profile); the image's size is printed. The image runs under
# podman (installed here when missing; --read-only, --cap-drop=all, the image's user); where podman cannot run
# containers and the test is not required to, its root filesystem's binary runs as the image's user instead.
scripts/container-build.sh
if [ "$(id -u)" = 0 ]; then export KONNEKTED_REQUIRE_PODMAN=1; fi
scripts/container-test.sh

step "schemathesis against the customer API (native host): no 5xx, every answer as the OpenAPI document says"
scripts/api-fuzz.sh

if [ -x scripts/edge-e2e.sh ]; then
  step "the same end-to-end suite against the Worker (wrangler dev, workerd, local D1)"
  scripts/edge-e2e.sh
fi

step "the same end-to-end suite against the Spin component (konnekted-spin-host: spin.toml routes, spin:sqlite, variables, outbound grants)"
scripts/edge-spin-e2e.sh

step "browser flows: headless Chromium against the native host (JavaScript on and off, 360 px and desktop)"
# Screenshots and page weights land in target/screenshots/<suite>/.
scripts/browser-tests.sh

step "run.sh as a new user meets it: a package bought on the captive page, its code accepted by run.sh's FreeRADIUS"
# Debug builds (the ones above); free ports and its own data folder.
scripts/run-check.sh
