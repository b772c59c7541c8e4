#!/usr/bin/env bash
# Smoke test of the Worker under `wrangler dev --local` (fresh state, its own port):
#   1. D1 batch semantics the core relies on (/__selftest/batch): changes() visible within a batch,
#      CHECK failure = Conflict + whole-batch rollback; and the core's storage contract suite
#      (konnekted_core::contract::run_all, /__selftest/contract) on D1.
#   2. Two tenants (e2e-t01, e2e-t02) via POST /api/tenants with the platform token; a plan and a
#      subscriber in each; neither tenant's token nor path can see the other's data, and the rows sit
#      in two different D1 databases (read back with `wrangler d1 execute --local`).
#   3. The cron trigger (/__scheduled) runs the expiry pass: a subscriber paid for one 60 s period
#      with no grace is `expired` after the cron fires.
#   scripts/edge-smoke.sh [port]     (default 8797; starts and stops its own wrangler dev)
# Prints "N passed, M failed" and exits non-zero on any failure. Takes about 2 minutes (60 s of it
# waiting for the subscription to run out).
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${1:-8797}"
passed=0
failed=0
bodyfile="$(mktemp)"

check() { # name, condition-exit-code
    if [ "$2" = 0 ]; then
        passed=$((passed + 1))
        echo "ok   $1"
    else
        failed=$((failed + 1))
        echo "FAIL $1"
    fi
}
jget() { # json, python expression on j
    python3 -c 'import json,sys; j=json.loads(sys.argv[1]); v=eval(sys.argv[2]); print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1" "$2" 2>/dev/null
}
call() { # method, path, token, [body] -> prints "status body"
    local args=(-s -o "$bodyfile" -w '%{http_code}' -X "$1" -H "authorization: Bearer $3")
    [ -n "${4:-}" ] && args+=(-H 'content-type: application/json' --data "$4")
    local code
    code="$(curl "${args[@]}" "$KONNEKTED_BASE_URL$2")"
    printf '%s %s' "$code" "$(cat "$bodyfile")"
}

cleanup() {
    rm -f "$bodyfile"
    "$repo/scripts/edge-dev.sh" stop "$port" >/dev/null 2>&1 || true
}
trap cleanup EXIT

envs="$("$repo/scripts/edge-dev.sh" start "$port")" || { echo "0 passed, 1 failed"; exit 1; }
eval "$envs"
source "$repo/scripts/edge-tools.sh" 2>/dev/null
state="$(cat "$repo/.wrangler/edge-dev-$port/state-dir")"
P="$KONNEKTED_PLATFORM_TOKEN"

# 1. D1 batch semantics
r="$(curl -s "$KONNEKTED_BASE_URL/__selftest/batch")"
echo "     selftest: $r"
check "d1_batch_changes_visible_and_check_failure_rolls_back" "$([ "$(jget "$r" 'j["pass"]')" = True ]; echo $?)"
r="$(curl -s "$KONNEKTED_BASE_URL/__selftest/contract")"
echo "     contract: $r"
check "d1_passes_the_core_storage_contract" "$([ "$(jget "$r" 'j["pass"]')" = True ]; echo $?)"

# 2. Two tenants, one plan + one subscriber each
declare -A tok sub
for t in e2e-t01 e2e-t02; do
    r="$(call POST /api/tenants "$P" "{\"realm\":\"$t\",\"name\":\"Smoke $t\",\"settings\":{\"grace_seconds\":0}}")"
    check "tenant_${t}_created" "$([ "${r%% *}" = 201 ]; echo $?)"
    tok[$t]="$(jget "${r#* }" 'j["admin_token"]')"
    r="$(call POST "/api/t/$t/plans" "${tok[$t]}" '{"code":"min1","name":"One minute","price_cents":100,"period_seconds":60,"down_kbps":5000,"up_kbps":1000}')"
    check "plan_in_${t}_created" "$([ "${r%% *}" = 201 ]; echo $?)"
    r="$(call POST "/api/t/$t/subscribers" "${tok[$t]}" "{\"name\":\"Subscriber of $t\",\"plan\":\"min1\",\"auto_renew\":false}")"
    check "subscriber_in_${t}_created" "$([ "${r%% *}" = 201 ]; echo $?)"
    sub[$t]="$(jget "${r#* }" 'j.get("id") or j.get("subscriber",{}).get("id")')"
done
r="$(call POST /api/tenants "wrong-token" '{"realm":"e2e-t03","name":"x"}')"
check "tenant_create_without_platform_token_is_401" "$([ "${r%% *}" = 401 ]; echo $?)"

for pair in "e2e-t01 e2e-t02" "e2e-t02 e2e-t01"; do
    read -r me other <<<"$pair"
    r="$(call GET "/api/t/$me/subscribers" "${tok[$me]}")"
    names="$(jget "${r#* }" '",".join(s["name"] for s in j)')"
    check "${me}_lists_only_its_subscriber" "$([ "$names" = "Subscriber of $me" ]; echo $?)"
    r="$(call GET "/api/t/$other/subscribers" "${tok[$me]}")"
    check "${me}_token_on_${other}_is_401" "$([ "${r%% *}" = 401 ]; echo $?)"
    r="$(call GET "/api/t/$me/subscribers/${sub[$other]}" "$P")"
    check "${other}_subscriber_not_found_under_${me}" "$([ "${r%% *}" = 404 ]; echo $?)"
done
for pair in "e2e-t01 T_E2E_T01" "e2e-t02 T_E2E_T02"; do
    read -r t binding <<<"$pair"
    rows="$(cd "$repo" && wrangler d1 execute "$binding" --local --persist-to "$state" --json \
        --command "SELECT name FROM subscribers" 2>/dev/null)"
    names="$(jget "$rows" '",".join(r["name"] for r in j[0]["results"])')"
    check "d1_${binding}_holds_only_${t}_rows" "$([ "$names" = "Subscriber of $t" ]; echo $?)"
done

# 3. Cron: pay one period for e2e-t01's subscriber, let it run out, fire the cron.
r="$(call POST "/api/t/e2e-t01/subscribers/${sub[e2e-t01]}/adjust" "${tok[e2e-t01]}" '{"amount_cents":100,"memo":"cash at the office"}')"
check "cash_payment_activates_subscriber" "$([ "$(jget "${r#* }" 'j["status"]')" = active ]; echo $?)"
echo "     waiting 62 s for the 60 s period to end"
sleep 62
r="$(curl -s "$KONNEKTED_BASE_URL/__scheduled?cron=*/5+*+*+*+*")"
check "scheduled_event_accepted" "$([[ "$r" == *"Ran scheduled event"* ]]; echo $?)"
r="$(call GET "/api/t/e2e-t01/subscribers/${sub[e2e-t01]}" "${tok[e2e-t01]}")"
check "cron_expired_the_lapsed_subscriber" "$([ "$(jget "${r#* }" 'j["status"]')" = expired ]; echo $?)"
r="$(call GET "/api/t/e2e-t02/subscribers/${sub[e2e-t02]}" "${tok[e2e-t02]}")"
check "cron_left_the_other_tenant_alone" "$([ "$(jget "${r#* }" 'j["status"]')" = pending ]; echo $?)"
grep -h "scheduled \*/5" "$state/wrangler.log" | tail -1 | cut -c1-300

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
