#!/usr/bin/env bash
# `konnekted-bench console` against the Worker under `wrangler dev --local` (workerd + local D1):
# the dashboard and subscriber search, p50/p99, on a tenant seeded with 24 months of history (its
# local D1 database's SQLite file written straight, as the native bench writes the tenant's file).
# A fresh wrangler dev on its own port (default 8788), stopped at the end; arguments go to the
# bench (--subscribers, --requests, --concurrency). wrangler dev's local workerd is not
# Cloudflare's network: these figures say what the core costs on workerd + SQLite-backed D1 on
# this machine, not what a deployment answers in.
#   scripts/edge-bench-console.sh [--subscribers 10000 --requests 2000 --concurrency 8]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/edge-tools.sh
source scripts/edge-tools.sh
port="${EDGE_BENCH_PORT:-8788}"
[ "${EDGE_SKIP_BUILD:-0}" = 1 ] || scripts/edge-build.sh workers
cargo build --release -p konnekted --features bench --bin konnekted-bench
bench="${CARGO_TARGET_DIR:-target}/release/konnekted-bench"
eval "$(EDGE_SKIP_BUILD=1 scripts/edge-dev.sh start "$port")"
trap 'scripts/edge-dev.sh stop "$port" >/dev/null 2>&1 || true' EXIT
# workerd runs in wrangler's process group (edge-dev.sh starts wrangler with setsid)
workerd="$(pgrep -g "$(cat ".wrangler/edge-dev-$port/pid")" workerd | head -1 || true)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bench" console --url "$KONNEKTED_BASE_URL" --platform-token "$KONNEKTED_PLATFORM_TOKEN" \
    --d1-state "$KONNEKTED_D1_STATE" ${workerd:+--host-pid "$workerd"} "$@"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
