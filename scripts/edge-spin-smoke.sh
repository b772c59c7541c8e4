#!/usr/bin/env bash
# Smoke test of the Spin component as spin.toml deploys it: the `spin` build (spin:sqlite,
# spin:variables) under konnekted-spin-host, from the repository's manifest and runtime config
# (in a temporary folder), with no outbound host added for simulators. Checks: /health; the
# platform API creates a tenant whose label spin.toml declares (its database opened through
# spin:sqlite) and refuses one without a label, leaving no half-made tenant; the new tenant's admin
# API, captive page and home page answer on their components; the stateless voucher check (the
# `vouchers` component, no database) accepts a code printed by the native CLI from the same secret
# and refuses others; the scheduled route wants the platform token and runs with it; a path no
# route names is 404.
#   scripts/edge-spin-smoke.sh [port]   (default 8790; builds first unless EDGE_SKIP_BUILD=1)
# scripts/edge-spin-e2e.sh runs it after the suites. The component's `local` build under
# `wasmtime serve` is scripts/edge-spin-local-smoke.sh.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
port="${1:-8790}"
spin_target="${CARGO_TARGET_DIR:-$repo/functions/spin/target}"
wasm="$spin_target/wasm32-wasip2/release/konnekted_spin.wasm"
if [ "${EDGE_SKIP_BUILD:-0}" != 1 ]; then
    rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
    (cd functions/spin && cargo build -q --release --target wasm32-wasip2 --target-dir "$spin_target") || exit 1
fi
[ -s "$wasm" ] || { echo "edge-spin-smoke: no component at $wasm (scripts/edge-build.sh spin)"; exit 1; }
cargo build -q -p konnekted-spin-host -p konnekted --bin konnekted-spin-host --bin konnekted || exit 1
# Where cargo put them (CARGO_TARGET_DIR or build.target-dir may move it away from ./target).
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bin="${target_dir:-$repo/target}/debug"

passed=0
failed=0
check() {
    if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}

# A code minted natively from the secret the component gets: the check must agree with the CLI.
secret="smoke-voucher-secret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
token="smoke-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
code="$(KONNEKTED_VOUCHER_SECRET="$secret" "$bin/konnekted" voucher code e2e-t20 3 41)" || exit 1

state="$(mktemp -d -t konnekted-spin-smoke-XXXXXX)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    [ "$failed" != 0 ] && { echo "--- konnekted-spin-host log (last 30 lines)"; tail -30 "$state/host.log"; }
    rm -rf "$state"
}
trap cleanup EXIT
sed "s#^source = \".*konnekted_spin.wasm\"#source = \"$wasm\"#" spin.toml >"$state/spin.toml"
cp functions/spin/runtime-config.toml "$state/runtime-config.toml"
url="http://127.0.0.1:$port"
t0=$(date +%s.%N)
SPIN_VARIABLE_PLATFORM_TOKEN="$token" SPIN_VARIABLE_VOUCHER_SECRET="$secret" SPIN_VARIABLE_PUBLIC_BASE_URL="$url" \
    "$bin/konnekted-spin-host" up --from "$state/spin.toml" --runtime-config-file "$state/runtime-config.toml" \
    --listen "127.0.0.1:$port" >"$state/host.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    curl -sf -o /dev/null "$url/health" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
echo "     konnekted-spin-host answered /health after $(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $t0}") s"

r="$(curl -s -w ' %{http_code}' "$url/health")"
check "health_answers_ok" "$([ "$r" = '{"status":"ok"} 200' ]; echo $?)"

# Platform API (admin): a tenant whose label spin.toml declares gets its database.
r="$(curl -s -w ' %{http_code}' -H "authorization: Bearer $token" -X POST \
    --data '{"realm":"e2e-t01","name":"Smoke"}' "$url/api/tenants")"
check "tenant_with_a_label_is_created" "$([[ "$r" == *'"realm":"e2e-t01"'*" 201" ]]; echo $?)"
admin="$(printf '%s' "$r" | sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')"
r="$(curl -s -w ' %{http_code}' -H "authorization: Bearer $token" -X POST \
    --data '{"realm":"smoke-nolabel","name":"No label"}' "$url/api/tenants")"
listed="$(curl -s -H "authorization: Bearer $token" "$url/api/tenants")"
check "tenant_without_a_label_is_refused_and_not_half_made (${r##* })" \
    "$([[ "${r##* }" == 5* && "$listed" != *smoke-nolabel* && "$listed" == *e2e-t01* ]]; echo $?)"
r="$(curl -s -w ' %{http_code}' -H "authorization: Bearer $admin" "$url/api/t/e2e-t01/plans")"
check "tenant_admin_api_reads_its_database" "$([ "$r" = '[] 200' ]; echo $?)"
r="$(curl -s -o /dev/null -w '%{http_code}' "$url/api/t/e2e-t01/plans")"
check "tenant_admin_api_without_token_is_401" "$([ "$r" = 401 ]; echo $?)"
r="$(curl -s -w ' %{http_code}' "$url/h/e2e-t01")"
check "captive_page_answers" "$([[ "$r" == *'action="/h/e2e-t01/voucher"'*" 200" ]]; echo $?)"
r="$(curl -s -o /dev/null -w '%{http_code}' "$url/")"
check "home_page_answers" "$([ "$r" = 200 ]; echo $?)"

# The voucher check: no database, the secret from spin:variables.
r="$(curl -s -w ' %{http_code}' "$url/api/v/e2e-t20/vouchers/$code")"
check "voucher_minted_natively_checks_on_spin" "$([[ "$r" == *'"batch":3'*'"serial":41'*" 200" ]]; echo $?)"
r="$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v/e2e-t21/vouchers/$code")"
check "voucher_of_another_realm_is_404" "$([ "$r" = 404 ]; echo $?)"
r="$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v/e2e-t20/vouchers/ABCD")"
check "malformed_voucher_is_400" "$([ "$r" = 400 ]; echo $?)"

# The scheduled pass (Spin has no cron: `konnekted sweep --edge URL --every SECS` calls this).
r="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/internal/scheduled")"
check "scheduled_without_token_is_401" "$([ "$r" = 401 ]; echo $?)"
r="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "authorization: Bearer $token" "$url/internal/scheduled")"
check "scheduled_with_token_runs" "$([ "$r" = 200 ]; echo $?)"
r="$(curl -s -o /dev/null -w '%{http_code}' "$url/nowhere")"
check "unrouted_path_is_404" "$([ "$r" = 404 ]; echo $?)"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
