#!/usr/bin/env bash
# The shared end-to-end suite (tests/) against the Spin component as spin.toml deploys it: the
# `spin` build (imports spin:sqlite and spin:variables) under konnekted-spin-host
# (functions/spin-host, a Spin-compatible host on the wasmtime crates), which routes each request
# to the component spin.toml names, with that component's SQLite labels (files from the runtime
# config), variables and outbound hosts. The Spin CLI is on no package registry this machine
# reaches; see functions/spin-host/README.md for how this host differs from it.
#   scripts/edge-spin-e2e.sh [suite...]   (default: the suites below, then scripts/edge-spin-smoke.sh;
#                                          builds first unless EDGE_SKIP_BUILD=1)
# Port: EDGE_SPIN_E2E_PORT (default 8796).
# The simulators run on loopback, so `portal` and `payments` (the components spin.toml lets reach
# Daraja, Stripe, Paystack and Africa's Talking) are also allowed http://127.0.0.1:*; `admin`,
# `sync` and `vouchers` get nothing extra.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(billing money sync vouchers cards cards_sim sms customer dashboard)
port="${EDGE_SPIN_E2E_PORT:-8796}"

spin_target="${CARGO_TARGET_DIR:-$repo/functions/spin/target}"
wasm="$spin_target/wasm32-wasip2/release/konnekted_spin.wasm"
if [ "${EDGE_SKIP_BUILD:-0}" != 1 ]; then
    rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
    t=$SECONDS
    (cd functions/spin && cargo build -q --release --target wasm32-wasip2 --target-dir "$spin_target")
    echo "edge-spin-e2e: component built in $((SECONDS - t)) s ($(stat -c %s "$wasm") B)"
fi
[ -s "$wasm" ] || { echo "edge-spin-e2e: no component at $wasm (scripts/edge-build.sh spin)"; exit 1; }

# The host's own tests on this component (routes, spin:sqlite grants and batch semantics,
# variables); a missing wasm fails them here instead of skipping.
KONNEKTED_REQUIRE_SPIN=1 SPIN_WASM="$wasm" cargo test -q -p konnekted-spin-host
cargo build -q -p konnekted-spin-host
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
host="${target_dir:-$repo/target}/debug/konnekted-spin-host"

state="$(mktemp -d -t konnekted-spin-e2e-XXXXXX)"
token="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
pid=""
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
    rm -rf "$state"
}
trap cleanup EXIT
# The repository's manifest with the component's source pointing at the build, and the runtime
# config next to it so its relative SQLite paths land in the state folder.
sed "s#^source = \".*konnekted_spin.wasm\"#source = \"$wasm\"#" spin.toml >"$state/spin.toml"
cp functions/spin/runtime-config.toml "$state/runtime-config.toml"

url="http://127.0.0.1:$port"
SPIN_VARIABLE_PLATFORM_TOKEN="$token" \
    SPIN_VARIABLE_VOUCHER_SECRET="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
    SPIN_VARIABLE_PUBLIC_BASE_URL="$url" SPIN_VARIABLE_EDGE_SELFTEST=1 \
    "$host" up --from "$state/spin.toml" --runtime-config-file "$state/runtime-config.toml" \
    --listen "127.0.0.1:$port" \
    --allow-outbound 'portal=http://127.0.0.1:*' --allow-outbound 'payments=http://127.0.0.1:*' \
    >"$state/host.log" 2>&1 &
pid=$!
t=$SECONDS
for _ in $(seq 1 600); do curl -sf -o /dev/null "$url/health" && break; sleep 0.2; done
curl -sf -o /dev/null "$url/health" || { echo "konnekted-spin-host did not answer"; cat "$state/host.log"; exit 1; }
echo "edge-spin-e2e: host answering after $((SECONDS - t)) s"

failed=0
r="$(curl -s "$url/__selftest/contract")"
if [[ "$r" == *'"pass":true'* ]]; then echo "ok   storage contract suite on spin:sqlite"; else echo "FAIL storage contract: $r"; failed=1; fi
r="$(curl -s "$url/__selftest/batch")"
echo "     batch semantics: $r"
[[ "$r" == *false* ]] && { echo "FAIL batch semantics"; failed=1; }

args=()
for s in "${suites[@]}"; do args+=(--test "$s"); done
echo "e2e suite against the Spin component (konnekted-spin-host) at $url: ${suites[*]}"
# EDGE_SPIN_E2E_SKIP=<test name filter> skips tests (none by default).
skip="${EDGE_SPIN_E2E_SKIP-}"
skip_args=()
[ -n "$skip" ] && skip_args=(-- --skip "$skip")
KONNEKTED_BASE_URL="$url" KONNEKTED_PLATFORM_TOKEN="$token" KONNEKTED_EDGE=spin \
    cargo test -p konnekted-e2e "${args[@]}" --no-fail-fast "${skip_args[@]}" || failed=1
if [ "$failed" != 0 ]; then
    echo "--- konnekted-spin-host log (last 60 lines)"; tail -60 "$state/host.log"
fi
# With the default suites: the smoke test on a host of its own (port EDGE_SPIN_SMOKE_PORT, 8790).
if [ $# -eq 0 ]; then
    EDGE_SKIP_BUILD=1 scripts/edge-spin-smoke.sh "${EDGE_SPIN_SMOKE_PORT:-8790}" || failed=1
fi
exit "$failed"
