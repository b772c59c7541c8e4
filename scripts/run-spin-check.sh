#!/usr/bin/env bash
# Starts `scripts/run.sh --spin` on free ports with its own data folder, waits until it says it is
# ready, and drives real flows through what it printed:
#   * the operator console: sign in with the printed owner login and password (CSRF form, session
#     cookie), then the subscribers page lists the demo's Wanjiku Kamau (seeded natively, read by
#     the `admin` component through spin:sqlite);
#   * an M-Pesa STK top-up for ACC1001 at the portal route (`portal` calls the Daraja simulator;
#     the simulator's callback reaches `payments`), after which the subscription is active;
#   * the captive page of the demo ISP and a voucher code printed by the native CLI from the printed
#     voucher secret, checked by the `vouchers` component;
#   * the timer ran a scheduled pass on the component, and the reconciler read the demo's desired
#     state from `sync` and completed a pass on the simulated router;
# then stops it with SIGTERM and checks every address it used is free again and its pid file gone.
#   scripts/run-spin-check.sh
# KONNEKTED_RUN_PROFILE (default dev here: the debug builds the other suites share; release is
# what a person running run.sh gets). RUN_SPIN_CHECK_TIMEOUT: seconds to wait for "ready"
# (default 3600, the first build included).
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export KONNEKTED_RUN_PROFILE="${KONNEKTED_RUN_PROFILE:-dev}"

free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}
listen_port="$(free_port)" router_port="$(free_port)" metrics_port="$(free_port)" providers_port="$(free_port)"
ports=("$listen_port" "$router_port" "$metrics_port" "$providers_port")
if [ "$(printf '%s\n' "${ports[@]}" | sort -u | wc -l)" != 4 ]; then
    echo "run-spin-check: could not pick four distinct free ports; run it again" >&2
    exit 1
fi
data="$(mktemp -d -t konnekted-run-spin-XXXXXX)"
out="$data.out"
base="http://127.0.0.1:$listen_port"
pid=""
passed=0
failed=0
check() {
    if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}
finish() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null; fi
    if [ "$failed" != 0 ]; then
        echo "--- run.sh output (last 40 lines)"; tail -40 "$out"
        for f in spin-host.log demo.log sweep.log reconciler.log; do
            [ -f "$data/$f" ] && { echo "--- $f (last 20 lines)"; tail -20 "$data/$f"; }
        done
    fi
    rm -rf "$data" "$out"
}
trap finish EXIT

t0=$SECONDS
: >"$out"
KONNEKTED_LISTEN="127.0.0.1:$listen_port" KONNEKTED_DEMO_ROUTER_PORT="$router_port" \
    KONNEKTED_RECONCILER_METRICS="127.0.0.1:$metrics_port" \
    KONNEKTED_DEMO_PROVIDERS_LISTEN="127.0.0.1:$providers_port" KONNEKTED_DATA_DIR="$data" \
    bash scripts/run.sh --spin >"$out" 2>&1 &
pid=$!
timeout="${RUN_SPIN_CHECK_TIMEOUT:-3600}"
while ! grep -q '^run.sh: ready$' "$out"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        check "run.sh --spin starts" 1
        exit 1
    fi
    if [ $((SECONDS - t0)) -gt "$timeout" ]; then
        check "run.sh --spin ready within $timeout s" 1
        exit 1
    fi
    sleep 0.5
done
echo "     run.sh --spin ready after $((SECONDS - t0)) s (builds included)"
t1=$SECONDS

# What to open and the sign-in details, as printed.
grep -q "Konnekted is running at $base with a demo ISP" "$out"
check "prints_what_to_open_at_the_spin_host" $?
grep -q 'On Spin (konnekted-spin-host serving spin.toml)' "$out" && grep -q -- "--edge $base --every 30" "$out"
check "prints_what_differs_on_spin" $?
login="$(sed -n 's#.*the operator console: sign in as \([^ ]*\) / \([^ ]*\)$#\1#p' "$out" | head -1)"
password="$(sed -n 's#.*the operator console: sign in as \([^ ]*\) / \([^ ]*\)$#\2#p' "$out" | head -1)"
admin="$(sed -n 's#^Demo secrets: admin token \([^,]*\),.*#\1#p' "$out" | head -1)"
secret="$(sed -n 's#^voucher secret \([^ ]*\) (print codes.*#\1#p' "$out" | head -1)"
[ -n "$login" ] && [ -n "$password" ] && [ -n "$admin" ] && [ -n "$secret" ]
check "sign_in_details_printed" $?

# The console: the sign-in form (pre-session cookie and CSRF field), the POST, the session.
jar="$data/check.headers"
page="$(curl -s -D "$jar" "$base/c/demo/login")"
pre="$(sed -n 's/^[Ss]et-[Cc]ookie: \(kc_pre=[^;]*\).*/\1/p' "$jar" | head -1)"
csrf="$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)"
r="$(curl -s -D "$jar" -o /dev/null -w '%{http_code}' -H "cookie: $pre" --data-urlencode "csrf=$csrf" \
    --data-urlencode "login=$login" --data-urlencode "password=$password" "$base/c/demo/login")"
session="$(sed -n 's/^[Ss]et-[Cc]ookie: \(kc_session=[^;]*\).*/\1/p' "$jar" | head -1)"
[ "$r" = 303 ] && [ -n "$session" ]
check "console_sign_in_with_the_printed_details ($r)" $?
r="$(curl -s -w ' %{http_code}' -H "cookie: $session" "$base/c/demo/subscribers?q=Wanjiku")"
[[ "$r" == *"Wanjiku Kamau"*" 200" ]]
check "console_lists_the_seeded_subscriber" $?
r="$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode "csrf=$csrf" --data-urlencode "login=$login" \
    --data-urlencode "password=wrong-$password" -H "cookie: $pre" "$base/c/demo/login")"
[ "$r" != 303 ]
check "console_refuses_a_wrong_password ($r)" $?

# An STK top-up: portal -> Daraja simulator -> callback to payments -> active subscription.
r="$(curl -s -X POST "$base/api/p/demo/topup" -H 'content-type: application/json' -d '{"account":"ACC1001"}')"
checkout="$(printf '%s' "$r" | sed -n 's/.*"checkout_request_id":"\([^"]*\)".*/\1/p')"
[ -n "$checkout" ]
check "stk_topup_accepted" $?
active=1
for _ in $(seq 1 60); do
    r="$(curl -s -H "authorization: Bearer $admin" "$base/api/t/demo/subscribers?status=active")"
    if [[ "$r" == *'"ACC1001"'* ]]; then active=0; break; fi
    sleep 0.5
done
check "stk_callback_activates_the_subscription" "$active"

# The captive page, and a voucher code the native CLI prints from the printed secret.
r="$(curl -s -w ' %{http_code}' "$base/h/demo")"
[[ "$r" == *'action="/h/demo/voucher"'*" 200" ]]
check "captive_page_answers" $?
bin="$(sed -n 's#^The binaries are in \(.*\) (not on PATH).*#\1#p' "$out" | head -1)"
code="$(KONNEKTED_VOUCHER_SECRET="$secret" "$bin/konnekted" voucher code demo 1 7)"
r="$(curl -s -w ' %{http_code}' "$base/api/v/demo/vouchers/$code")"
[[ "$r" == *'"batch":1'*'"serial":7'*" 200" ]]
check "voucher_printed_natively_checks_on_spin" $?

# The timer's first pass runs at once; the reconciler reads from `sync` and applies to the router.
ok=1
for _ in $(seq 1 60); do grep -q 'scheduled pass' "$data/sweep.log" && { ok=0; break; }; sleep 0.5; done
check "timer_ran_a_scheduled_pass" "$ok"
ok=1
for _ in $(seq 1 120); do
    m="$(curl -s "http://127.0.0.1:$metrics_port/metrics")"
    if printf '%s\n' "$m" | grep -Eq '^konnekted_reconciler_passes_total\{[^}]*outcome="ok"[^}]*\} [1-9]'; then ok=0; break; fi
    sleep 0.5
done
check "reconciler_pass_against_spin" "$ok"
echo "     flows took $((SECONDS - t1)) s"

# Stop: SIGTERM to run.sh, as a service manager would (Ctrl-C goes the same way).
kill -TERM "$pid"
stopped=1
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || { stopped=0; break; }; sleep 0.2; done
check "run.sh_stops_on_sigterm" "$stopped"
busy=""
for _ in $(seq 1 50); do
    busy=""
    for p in "${ports[@]}"; do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && busy="$busy $p"; done
    [ -z "$busy" ] && break
    sleep 0.2
done
[ -z "$busy" ] && [ ! -e "$data/run.pid" ]
check "every_process_stopped (busy:${busy:- none})" $?
echo "$passed passed, $failed failed ($((SECONDS - t0)) s in all)"
[ "$failed" = 0 ]
