#!/usr/bin/env bash
# The shared end-to-end suite (tests/) against the Spin component, as far as it runs without the
# Spin CLI (which no package registry has): the component's `local` build under `wasmtime serve`
# (the same WASIp3 wasm and core as the `spin` build; only the storage and settings imports
# differ), its statements sent over HTTP to `konnekted spin-sqlite` (SQLite files by label, as
# Spin's runtime config keeps them), the scheduled pass fired at POST /internal/scheduled.
#   scripts/edge-spin-e2e.sh [suite...]   (default: the suites below; builds first unless EDGE_SKIP_BUILD=1)
# Ports: EDGE_SPIN_E2E_PORT (default 8796) for wasmtime, the next one for spin-sqlite.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export EDGE_TOOLS_ONLY=spin
# shellcheck source=scripts/edge-tools.sh
source scripts/edge-tools.sh
[ "${EDGE_SKIP_BUILD:-0}" = 1 ] || scripts/edge-build.sh spin
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(billing money sms)
port="${EDGE_SPIN_E2E_PORT:-8796}"
store_port=$((port + 1))

cargo build -q -p konnekted --bin konnekted
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
state="$(mktemp -d -t konnekted-spin-e2e-XXXXXX)"
token="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
    rm -rf "$state"
}
trap cleanup EXIT
setsid "${target_dir:-$repo/target}/debug/konnekted" spin-sqlite --listen "127.0.0.1:$store_port" \
    --data "$state/sqlite" >"$state/store.log" 2>&1 &
pids+=($!)
setsid "$WASMTIME_BIN" serve -Scli=y --addr "127.0.0.1:$port" \
    --env "STORE_URL=http://127.0.0.1:$store_port/" --env "PLATFORM_TOKEN=$token" \
    --env "VOUCHER_SECRET=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
    --env "PUBLIC_BASE_URL=http://127.0.0.1:$port" --env EDGE_SELFTEST=1 \
    "$SPIN_LOCAL_WASM" >"$state/wasmtime.log" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$port"
for _ in $(seq 1 300); do curl -sf -o /dev/null "$url/health" && break; sleep 0.1; done
curl -sf -o /dev/null "$url/health" || { echo "wasmtime serve did not answer"; cat "$state/wasmtime.log"; exit 1; }

failed=0
r="$(curl -s "$url/__selftest/contract")"
if [[ "$r" == *'"pass":true'* ]]; then echo "ok   storage contract suite through spin-sqlite"; else echo "FAIL storage contract: $r"; failed=1; fi
r="$(curl -s "$url/__selftest/batch")"
echo "     batch semantics: $r"

args=()
for s in "${suites[@]}"; do args+=(--test "$s"); done
echo "e2e suite against the Spin component (wasmtime serve) at $url: ${suites[*]}"
KONNEKTED_BASE_URL="$url" KONNEKTED_PLATFORM_TOKEN="$token" KONNEKTED_EDGE=spin \
    cargo test --workspace "${args[@]}" --no-fail-fast || failed=1
if [ "$failed" != 0 ]; then
    echo "--- wasmtime log (last 40 lines)"; tail -40 "$state/wasmtime.log"
    echo "--- spin-sqlite log (last 20 lines)"; tail -20 "$state/store.log"
fi
exit "$failed"
