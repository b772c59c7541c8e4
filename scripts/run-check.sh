#!/usr/bin/env bash
# Starts `scripts/run.sh` (the native host) on free ports with its own data folder, waits until it
# says it is ready, and does what the README's hotspot section tells a new user to do:
#   * buys a package on the captive page as a browser would (a first visit without a router in
#     front, as the README's new user opens it; the buy form with its CSRF field, the POST that starts the STK push, the waiting page until
#     the Daraja simulator has been paid and the code shows);
#   * runs the radclient command run.sh printed, with that code: FreeRADIUS (started by run.sh on
#     the config konnekted-radius generated) must answer Access-Accept with the package's
#     Session-Timeout and Mikrotik-Rate-Limit; a forged code must get Access-Reject;
# then stops it with SIGTERM and checks every address it used (FreeRADIUS's UDP port too) is free
# again and its pid file gone. Needs FreeRADIUS (radius-sql/tests/setup.sh): without it, it says so
# and fails.
#   scripts/run-check.sh
# KONNEKTED_RUN_PROFILE (default dev here: the debug builds the other suites share).
# RUN_CHECK_TIMEOUT: seconds to wait for "ready" (default 3600, the first build included).
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export KONNEKTED_RUN_PROFILE="${KONNEKTED_RUN_PROFILE:-dev}"
if ! command -v freeradius >/dev/null || ! command -v radclient >/dev/null; then
    echo "run-check: FreeRADIUS is not installed: bash radius-sql/tests/setup.sh" >&2
    exit 1
fi

free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null &&
            [ -z "$(ss -Hlun "( sport = :$p or sport = :$((p + 1)) )" 2>/dev/null)" ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}
listen_port="$(free_port)" router_port="$(free_port)" metrics_port="$(free_port)" providers_port="$(free_port)"
radius_port="$(free_port)"
ports=("$listen_port" "$router_port" "$metrics_port" "$providers_port")
if [ "$(printf '%s\n' "${ports[@]}" "$radius_port" "$((radius_port + 1))" | sort -u | wc -l)" != 6 ]; then
    echo "run-check: could not pick distinct free ports; run it again" >&2
    exit 1
fi
data="$(mktemp -d -t konnekted-run-XXXXXX)"
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
        for f in radius/gen-config.log radius/freeradius.log radius/log/radius.log reconciler.log; do
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
    KONNEKTED_DEMO_PROVIDERS_LISTEN="127.0.0.1:$providers_port" KONNEKTED_RADIUS_PORT="$radius_port" \
    KONNEKTED_DATA_DIR="$data" bash scripts/run.sh >"$out" 2>&1 &
pid=$!
timeout="${RUN_CHECK_TIMEOUT:-3600}"
while ! grep -q '^run.sh: ready$' "$out"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        check "run.sh starts" 1
        exit 1
    fi
    if [ $((SECONDS - t0)) -gt "$timeout" ]; then
        check "run.sh ready within $timeout s" 1
        exit 1
    fi
    sleep 0.5
done
echo "     run.sh ready after $((SECONDS - t0)) s (builds included)"

# The radclient command, as printed (one line under "what to try").
cmd="$(grep -E '^  CODE=.*radclient ' "$out" | head -1 | sed 's/^  //')"
[[ "$cmd" == *"radclient -x 127.0.0.1:$radius_port auth "* ]]
check "prints_a_radclient_command_for_its_freeradius" $?

# The captive page as the README's new user opens it: a browser on this machine, cookies kept,
# no router in front (so no MAC: the code's first login through FreeRADIUS binds the device).
jar="$data/check.cookies"
r="$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{http_code}' "$base/h/demo")"
[ "$r" = 200 ]
check "captive_page_answers ($r)" $?
page="$(curl -s -c "$jar" -b "$jar" "$base/h/demo/buy?plan=wifi-1h")"
csrf="$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)"
wait_url="$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' --data-urlencode "csrf=$csrf" \
    --data-urlencode "plan=wifi-1h" --data-urlencode "phone=0708374149" "$base/h/demo/buy")"
[[ "$wait_url" == *"/h/demo/wait/"* ]]
check "buy_starts_the_stk_push ($wait_url)" $?
code=""
for _ in $(seq 1 60); do
    code="$(curl -s -c "$jar" -b "$jar" "$wait_url" | sed -n 's/.*id="the-code"[^>]*>\([^<]*\)<.*/\1/p' | head -1)"
    [ -n "$code" ] && break
    sleep 0.5
done
[ -n "$code" ]
check "the_paid_package_shows_its_code ($code)" $?

# The printed command with that code (without its dashes, as the page's login form sends it).
login="${cmd/CODE=ABCD2345EFGH/CODE=${code//-/}}"
reply="$(bash -c "$login" 2>&1)"
[[ "$reply" == *"Received Access-Accept"* ]]
check "freeradius_accepts_the_bought_code" $?
st="$(printf '%s\n' "$reply" | sed -n 's/^[[:space:]]*Session-Timeout = \([0-9]*\)$/\1/p' | head -1)"
[ -n "$st" ] && [ "$st" -gt 3480 ] && [ "$st" -le 3600 ]
check "with_the_package_time_left (Session-Timeout ${st:-none})" $?
printf '%s\n' "$reply" | grep -q 'Mikrotik-Rate-Limit = "1M/3M"'
check "with_the_package_rate (Mikrotik-Rate-Limit 1M/3M)" $?
printf '%s\n' "$reply" | grep -E 'Received Access-|Session-Timeout|Mikrotik-Rate-Limit' | sed 's/^/     /'
canonical="${code//-/}"
forged="$([ "${canonical:0:1}" = A ] && echo B || echo A)${canonical:1}"
reply="$(bash -c "${cmd/CODE=ABCD2345EFGH/CODE=$forged}" 2>&1)"
[[ "$reply" == *"Received Access-Reject"* ]]
check "freeradius_rejects_a_forged_code" $?

# The demo router is in line: the reconciler's passes over it succeed (a refused change, such as
# a secret naming a profile nothing creates, fails the pass and shows on the console's routers page).
ok_pass=1
for _ in $(seq 1 60); do
    if curl -s "http://127.0.0.1:$metrics_port/metrics" |
        grep -E '^konnekted_reconciler_passes_total\{[^}]*outcome="ok"' | grep -qvE ' 0$'; then
        ok_pass=0
        break
    fi
    sleep 0.5
done
check "the_reconciler_passes_the_demo_router" $ok_pass
! grep -q 'pass failed' "$data/reconciler.log"
check "no_reconciler_pass_failed" $?

# Stop: SIGTERM to run.sh, as a service manager would (Ctrl-C goes the same way).
kill -TERM "$pid"
stopped=1
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || { stopped=0; break; }; sleep 0.2; done
check "run.sh_stops_on_sigterm" "$stopped"
busy=""
for _ in $(seq 1 50); do
    busy=""
    for p in "${ports[@]}"; do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && busy="$busy $p"; done
    [ -n "$(ss -Hlun "( sport = :$radius_port )" 2>/dev/null)" ] && busy="$busy $radius_port/udp"
    [ -z "$busy" ] && break
    sleep 0.2
done
[ -z "$busy" ] && [ ! -e "$data/run.pid" ]
check "every_process_stopped (busy:${busy:- none})" $?
echo "$passed passed, $failed failed ($((SECONDS - t0)) s in all)"
[ "$failed" = 0 ]
