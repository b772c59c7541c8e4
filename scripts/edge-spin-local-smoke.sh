#!/usr/bin/env bash
# Serves the Spin component's `local` build (no spin:* imports) under `wasmtime serve` and checks
# what can run without the Spin CLI: GET /health answers, the stateless voucher check accepts a
# code printed by the native CLI from the same secret and refuses others, database routes answer
# 503, the scheduled route wants the platform token. Also checks that the real (`spin`) build is the one
# that needs Spin: wasmtime refuses it for its spin:sqlite import.
#   scripts/edge-spin-local-smoke.sh [port]   (default 8790; builds first unless EDGE_SKIP_BUILD=1)
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${1:-8790}"
export EDGE_TOOLS_ONLY=spin
# shellcheck source=scripts/edge-tools.sh
source "$repo/scripts/edge-tools.sh" || exit 1
[ "${EDGE_SKIP_BUILD:-0}" = 1 ] || "$repo/scripts/edge-build.sh" spin spin-local || exit 1
local_wasm="$SPIN_LOCAL_WASM"
spin_wasm="$SPIN_WASM"
passed=0
failed=0
check() {
    if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}

# A code minted natively from the secret the component gets: the check must agree with the CLI.
secret="smoke-voucher-secret"
(cd "$repo" && cargo build -q -p konnekted --bin konnekted) || exit 1
# Where cargo put it (CARGO_TARGET_DIR or build.target-dir may move it away from ./target).
target_dir="$(cd "$repo" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
code="$(KONNEKTED_VOUCHER_SECRET="$secret" "${target_dir:-$repo/target}/debug/konnekted" voucher code e2e-t20 3 41)" || exit 1

log="$(mktemp)"
t0=$(date +%s.%N)
setsid "$WASMTIME_BIN" serve -Scli=y --addr "127.0.0.1:$port" --env PLATFORM_TOKEN=smoke \
    --env "VOUCHER_SECRET=$secret" "$local_wasm" >"$log" 2>&1 &
pid=$!
trap 'kill -TERM -- "-$pid" 2>/dev/null; rm -f "$log"' EXIT
url="http://127.0.0.1:$port"
for _ in $(seq 1 300); do curl -sf -o /dev/null "$url/health" && break; sleep 0.1; done
echo "     wasmtime serve answered /health after $(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $t0}") s"

r="$(curl -s -w ' %{http_code}' "$url/health")"
check "health_answers_ok" "$([ "$r" = '{"status":"ok"} 200' ]; echo $?)"
r="$(curl -s -w ' %{http_code}' -H 'authorization: Bearer smoke' -X POST --data '{"realm":"e2e-t01","name":"x"}' "$url/api/tenants")"
check "tenant_create_without_database_is_503" "$([[ "$r" == *"has no database"*" 503" ]]; echo $?)"
r="$(curl -s -w ' %{http_code}' "$url/api/v/e2e-t20/vouchers/$code")"
check "voucher_minted_natively_checks_on_spin" "$([[ "$r" == *'"batch":3'*'"serial":41'*" 200" ]]; echo $?)"
r="$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v/e2e-t21/vouchers/$code")"
check "voucher_of_another_realm_is_404" "$([ "$r" = 404 ]; echo $?)"
r="$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v/e2e-t20/vouchers/ABCD")"
check "malformed_voucher_is_400" "$([ "$r" = 400 ]; echo $?)"
r="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/internal/scheduled")"
check "scheduled_without_token_is_401" "$([ "$r" = 401 ]; echo $?)"
r="$(timeout 20 "$WASMTIME_BIN" serve -Scli=y --addr "127.0.0.1:$((port + 1))" "$spin_wasm" 2>&1 || true)"
check "spin_build_needs_spin_runtime" "$([[ "$r" == *"spin:sqlite/sqlite@3.1.0"* ]]; echo $?)"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
