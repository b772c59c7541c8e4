#!/usr/bin/env bash
# Runs Konnekted locally on its embedded defaults: the billing API on SQLite files in ./data with a
# demo ISP and the Daraja simulator in-process, plus a simulated MikroTik router and the reconciler
# keeping it in line with billing. Ctrl-C stops everything.
#
# Addresses and folders (a second instance needs its own of each):
#   KONNEKTED_LISTEN (127.0.0.1:8080), KONNEKTED_DEMO_ROUTER_PORT (18728),
#   KONNEKTED_RECONCILER_METRICS (127.0.0.1:9108), KONNEKTED_DATA_DIR (data),
#   KONNEKTED_DEMO_PROVIDERS_LISTEN (127.0.0.1:8091: the Stripe / Paystack / SMS simulators and the SMS inbox)
set -euo pipefail
cd "$(dirname "$0")/.."
listen="${KONNEKTED_LISTEN:-127.0.0.1:8080}"
router_port="${KONNEKTED_DEMO_ROUTER_PORT:-18728}"
metrics="${KONNEKTED_RECONCILER_METRICS:-127.0.0.1:9108}"
data="${KONNEKTED_DATA_DIR:-data}"
providers="${KONNEKTED_DEMO_PROVIDERS_LISTEN:-127.0.0.1:8091}"
export KONNEKTED_DEMO_PROVIDERS_LISTEN="$providers"

# Refuse before touching anything: another instance's files stay as they are.
if [ -f "$data/run.pid" ] && kill -0 "$(cat "$data/run.pid")" 2>/dev/null; then
    echo "run.sh: another instance (pid $(cat "$data/run.pid")) is running with $data;" \
        "stop it or set KONNEKTED_DATA_DIR (and the addresses above) for a second one" >&2
    exit 1
fi
for addr in "$listen" "127.0.0.1:$router_port" "$metrics" "$providers"; do
    if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then
        echo "run.sh: $addr is already in use; set KONNEKTED_LISTEN, KONNEKTED_DEMO_ROUTER_PORT," \
            "KONNEKTED_RECONCILER_METRICS or KONNEKTED_DEMO_PROVIDERS_LISTEN to free addresses" >&2
        exit 1
    fi
done
mkdir -p "$data"
echo $$ > "$data/run.pid"

echo "run.sh: building (release). The first build compiles every dependency: about 12 minutes on a"
echo "2-core machine; later runs start in seconds."
cargo build --release -p konnekted -p routeros-sim -p konnekted-reconciler --features konnekted/demo
# Where cargo put them (CARGO_TARGET_DIR or build.target-dir may move it away from ./target).
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bin="${target_dir:-target}/release"

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -f "$data/run.pid"
}
trap cleanup EXIT INT TERM

"$bin/routeros-sim" --listen "127.0.0.1:$router_port" --user admin --password demo --flavour v7 \
  > "$data/router.log" 2>&1 &
pids+=($!)

cat > "$data/reconciler.toml" <<TOML
listen = "$metrics"
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
with billing by the reconciler (log: $data/reconciler.log, metrics: http://$metrics/metrics;
full pass every 60 s as configured here, change feed polled every second).
After the STK top-up above, the change feed carries the payment to the router within seconds
(the fast path): watch the counters move with
  curl -s http://$metrics/metrics | grep -E 'feed_changes|changes_applied|passes_total'

Card payments (Stripe, Paystack) and SMS go through simulators at http://$providers/ ; every SMS
the ISP sends (payment receipts, reminders) lands in the simulator's inbox: http://$providers/inbox

The binaries are in $bin (not on PATH): e.g.
  $bin/konnekted tenant list --data $data
  KONNEKTED_VOUCHER_SECRET=demo-voucher-secret $bin/konnekted voucher code demo 1 0
MSG
wait "${pids[1]}"
