#!/usr/bin/env bash
# Runs the Worker locally under `wrangler dev --local` (workerd + local D1, no Cloudflare account)
# with fresh state, for the smoke test and the shared e2e suite (tests/, KONNEKTED_BASE_URL).
#
#   scripts/edge-dev.sh start [port]   build, start in the background, wait for /health, print env
#   scripts/edge-dev.sh stop [port]    stop it and delete its state
#   scripts/edge-dev.sh env [port]     print the env of the running instance
# (port defaults to 8787; instances on different ports are independent, but start them one after
# the other: two wrangler dev starting at the same moment collided on an internal socket once)
#
# `start` prints (and writes to .wrangler/edge-dev-<port>.env, which `source` accepts):
#   export KONNEKTED_BASE_URL=http://127.0.0.1:<port>
#   export KONNEKTED_PLATFORM_TOKEN=<random, or $KONNEKTED_PLATFORM_TOKEN if set>
#   export KONNEKTED_D1_STATE=<the --persist-to folder: local D1 databases are SQLite files under it>
# The control database is migrated by the adapter on the first request; tenant databases by
# POST /api/tenants. The cron trigger runs with: curl "$KONNEKTED_BASE_URL/__scheduled?cron=*/5+*+*+*+*"
# Set EDGE_SKIP_BUILD=1 to use the existing functions/workers/build (wrangler's [build] step is skipped
# either way: EDGE_PREBUILT=1).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${2:-8787}"
run="$repo/.wrangler/edge-dev-$port"
envfile="$repo/.wrangler/edge-dev-$port.env"

stop() {
    if [ -f "$run/pid" ]; then
        pid="$(cat "$run/pid")"
        # wrangler was started with setsid: its process group holds workerd and the esbuild helpers.
        kill -TERM -- "-$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
        echo "edge-dev: stopped wrangler (pid $pid)"
    fi
    if [ -f "$run/state-dir" ]; then rm -rf "$(cat "$run/state-dir")"; fi
    rm -rf "$run" "$envfile"
}

start() {
    # shellcheck source=scripts/edge-tools.sh
    source "$repo/scripts/edge-tools.sh"
    [ -f "$run/pid" ] && stop
    if [ "${EDGE_SKIP_BUILD:-0}" != 1 ]; then
        "$repo/scripts/edge-build.sh" workers
    fi
    if [ ! -f "$repo/functions/workers/build/index.js" ]; then
        echo "edge-dev: no functions/workers/build/index.js; run scripts/edge-build.sh workers" >&2
        return 1
    fi
    # Built above (or by the caller): wrangler's [build] step becomes a no-op.
    export EDGE_PREBUILT=1
    mkdir -p "$run"
    local state token
    state="$(mktemp -d -t konnekted-wrangler-XXXXXX)"
    echo "$state" >"$run/state-dir"
    token="${KONNEKTED_PLATFORM_TOKEN:-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')}"
    local vouchers
    vouchers="${KONNEKTED_VOUCHER_SECRET:-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')}"
    local t0
    t0=$(date +%s.%N)
    (cd "$repo" && exec setsid wrangler dev --local --ip 127.0.0.1 --port "$port" --test-scheduled \
        --persist-to "$state" --show-interactive-dev-session=false \
        --var "PLATFORM_TOKEN:$token" --var "PUBLIC_BASE_URL:http://127.0.0.1:$port" --var "EDGE_SELFTEST:1" \
        --var "VOUCHER_SECRET:$vouchers" \
        </dev/null >"$state/wrangler.log" 2>&1) &
    echo $! >"$run/pid"
    local url="http://127.0.0.1:$port"
    for _ in $(seq 1 600); do
        if curl -sf -o /dev/null "$url/health"; then
            local t1
            t1=$(date +%s.%N)
            printf 'export KONNEKTED_BASE_URL=%s\nexport KONNEKTED_PLATFORM_TOKEN=%s\nexport KONNEKTED_D1_STATE=%s\n' \
                "$url" "$token" "$state" >"$envfile"
            echo "edge-dev: wrangler dev answered /health in $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s (log: $state/wrangler.log)" >&2
            cat "$envfile"
            return 0
        fi
        if ! kill -0 "$(cat "$run/pid")" 2>/dev/null; then
            echo "edge-dev: wrangler exited; log follows" >&2
            cat "$state/wrangler.log" >&2
            stop
            return 1
        fi
        sleep 0.2
    done
    echo "edge-dev: no answer from $url/health after 120 s; log: $state/wrangler.log" >&2
    tail -40 "$state/wrangler.log" >&2
    stop
    return 1
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) cat "$envfile" ;;
*)
    echo "usage: $0 start [port] | stop | env" >&2
    exit 2
    ;;
esac
