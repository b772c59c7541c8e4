#!/usr/bin/env bash
# Runs Konnekted locally on its embedded defaults: the billing API on SQLite files in ./data with a
# demo ISP and the Daraja simulator in-process, plus a simulated MikroTik router and the reconciler
# keeping it in line with billing. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
listen="${KONNEKTED_LISTEN:-127.0.0.1:8080}"
router_port="${KONNEKTED_DEMO_ROUTER_PORT:-18728}"
data="${KONNEKTED_DATA_DIR:-data}"
mkdir -p "$data"
cargo build --release -p konnekted -p routeros-sim -p konnekted-reconciler --features konnekted/demo
# Where cargo put them (CARGO_TARGET_DIR or build.target-dir may move it away from ./target).
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bin="${target_dir:-target}/release"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

"$bin/routeros-sim" --listen "127.0.0.1:$router_port" --user admin --password demo --flavour v7 \
  > "$data/router.log" 2>&1 &
pids+=($!)

cat > "$data/reconciler.toml" <<TOML
listen = "127.0.0.1:9108"
full_pass_seconds = 60
feed_poll_ms = 1000

[[tenant]]
realm = "demo"
edge_url = "http://$listen"
sync_key = "demo-sync-key-0123456789abcdef"

[tenant.walled_garden]
portal_host = "$listen"
portal_address = "127.0.0.1"
portal_port = ${listen##*:}

[[router]]
name = "tower-1"
tenant = "demo"
address = "127.0.0.1"
port = $router_port
username = "admin"
password = "demo"
sites = ["tower-1"]
TOML

"$bin/konnekted" serve --demo --data "$data" --listen "$listen" &
pids+=($!)
sleep 2
"$bin/konnekted-reconciler" run --config "$data/reconciler.toml" > "$data/reconciler.log" 2>&1 &
pids+=($!)
cat <<MSG

A simulated MikroTik router (RouterOS API on 127.0.0.1:$router_port, admin/demo) is kept in line
with billing by the reconciler (log: $data/reconciler.log, metrics: http://127.0.0.1:9108/metrics).
After the STK top-up above, the change feed carries the payment to the router within seconds
(the fast path): watch the counters move with
  curl -s http://127.0.0.1:9108/metrics | grep -E 'feed_changes|changes_applied|passes_total'
MSG
wait "${pids[1]}"
