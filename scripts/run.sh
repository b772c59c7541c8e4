#!/usr/bin/env bash
# Runs Konnekted locally on its embedded defaults: the billing API on SQLite files in ./data with a
# demo ISP and the Daraja simulator in-process, plus a simulated MikroTik router and the reconciler
# keeping it in line with billing. Ctrl-C stops everything.
#
# Addresses and folders (a second instance needs its own of each):
#   KONNEKTED_LISTEN (127.0.0.1:8080), KONNEKTED_DEMO_ROUTER_PORT (18728),
#   KONNEKTED_RECONCILER_METRICS (127.0.0.1:9108), KONNEKTED_DATA_DIR (data),
#   KONNEKTED_DEMO_PROVIDERS_LISTEN (127.0.0.1:8091: the Stripe / Paystack / SMS simulators and the SMS inbox)
#
#   scripts/run.sh --spin   the same product on the Spin component (functions/spin, built for
#                           wasm32-wasip2) served by konnekted-spin-host from spin.toml instead of
#                           the native host; the demo ISP is seeded into the SQLite files the host
#                           serves by `konnekted demo-edge`, which also runs the simulators.
# KONNEKTED_RUN_PROFILE=dev builds the debug profile instead of release (faster to build, for tests).
set -euo pipefail
cd "$(dirname "$0")/.."
spin=0
for arg in "$@"; do
    case "$arg" in
    --spin) spin=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "run.sh: unknown argument $arg (usage: scripts/run.sh [--spin])" >&2
        exit 2
        ;;
    esac
done
profile="${KONNEKTED_RUN_PROFILE:-release}"
case "$profile" in
release) profile_flag=(--release) profile_dir=release ;;
dev | debug) profile_flag=() profile_dir=debug ;;
*)
    echo "run.sh: KONNEKTED_RUN_PROFILE must be release or dev, not $profile" >&2
    exit 2
    ;;
esac
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
# On Spin: refuse before building or touching anything when a piece is missing.
if [ "$spin" = 1 ]; then
    for f in spin.toml functions/spin/runtime-config.toml functions/spin/Cargo.toml; do
        [ -f "$f" ] || { echo "run.sh --spin: $f is missing (run from a full checkout)" >&2; exit 1; }
    done
    grep -q '^\[sqlite_database\.t_demo\]' functions/spin/runtime-config.toml || {
        echo "run.sh --spin: the demo ISP has no SQLite label: bash scripts/edge-tenant-add.sh demo" >&2
        exit 1
    }
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
        rustup target add wasm32-wasip2 >/dev/null 2>&1 || {
            echo "run.sh --spin: the Rust target wasm32-wasip2 is not installed and rustup could not add it:" \
                "rustup target add wasm32-wasip2" >&2
            exit 1
        }
    fi
fi
mkdir -p "$data"
echo $$ > "$data/run.pid"

echo "run.sh: building ($profile_dir). The first build compiles every dependency: about 12 minutes on a"
echo "2-core machine (more with --spin: wasmtime and the component); later runs start in seconds."
if [ "$spin" = 1 ]; then
    cargo build "${profile_flag[@]}" -p konnekted -p routeros-sim -p konnekted-reconciler -p konnekted-spin-host \
        --features konnekted/demo
else
    cargo build "${profile_flag[@]}" -p konnekted -p routeros-sim -p konnekted-reconciler --features konnekted/demo
fi
# Where cargo put them (CARGO_TARGET_DIR or build.target-dir may move it away from ./target).
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bin="${target_dir:-target}/$profile_dir"
if [ "$spin" = 1 ]; then
    # Where scripts/edge-build.sh and scripts/edge-spin-e2e.sh put it, so the builds are shared.
    spin_target="${CARGO_TARGET_DIR:-$PWD/functions/spin/target}"
    wasm="$spin_target/wasm32-wasip2/release/konnekted_spin.wasm"
    (cd functions/spin && cargo build --release --target wasm32-wasip2 --target-dir "$spin_target")
    [ -s "$wasm" ] || { echo "run.sh --spin: the component was not built at $wasm" >&2; exit 1; }
fi

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

if [ "$spin" = 0 ]; then
    "$bin/konnekted" serve --demo --data "$data" --listen "$listen" &
    pids+=($!)
    main_pid=$!
    sleep 2
else
    # The demo ISP goes into the files the Spin host will serve, through the product's own code
    # (`konnekted demo-edge`, the seed `serve --demo` runs); that process then keeps the Daraja
    # and Stripe / Paystack / SMS simulators running, with their callbacks at the Spin host.
    platform_token="${KONNEKTED_PLATFORM_TOKEN:-demo-platform-token}"
    voucher_secret="${KONNEKTED_VOUCHER_SECRET:-demo-voucher-secret}"
    rm -f "$data/demo.ready"
    KONNEKTED_PLATFORM_TOKEN="$platform_token" KONNEKTED_VOUCHER_SECRET="$voucher_secret" \
        "$bin/konnekted" demo-edge --data "$data" --listen "$listen" --ready "$data/demo.ready" \
        > "$data/demo.txt" 2> "$data/demo.log" &
    pids+=($!)
    demo_pid=$!
    for _ in $(seq 1 600); do
        [ -f "$data/demo.ready" ] && break
        kill -0 "$demo_pid" 2>/dev/null || break
        sleep 0.2
    done
    if [ ! -f "$data/demo.ready" ]; then
        echo "run.sh --spin: seeding the demo ISP failed (log: $data/demo.log):" >&2
        tail -20 "$data/demo.log" >&2
        exit 1
    fi
    # The repository's manifest with the component's source at the build, and a runtime config
    # that puts `control` and `t_demo` on the files just seeded (control.sqlite,
    # tenants/demo.sqlite, as the native host lays them out) and every other label under spin/.
    sed "s#^source = \".*konnekted_spin.wasm\"#source = \"$wasm\"#" spin.toml > "$data/spin.toml"
    sed -e 's#^path = ".spin/sqlite/control.db"#path = "control.sqlite"#' \
        -e 's#^path = ".spin/sqlite/t_demo.db"#path = "tenants/demo.sqlite"#' \
        -e 's#^path = ".spin/sqlite/#path = "spin/#' \
        functions/spin/runtime-config.toml > "$data/runtime-config.toml"
    # The simulators listen on loopback: `portal` and `payments` (the components spin.toml lets
    # reach Daraja, Stripe, Paystack and Africa's Talking) may also reach http://127.0.0.1:*.
    SPIN_VARIABLE_PLATFORM_TOKEN="$platform_token" SPIN_VARIABLE_VOUCHER_SECRET="$voucher_secret" \
        SPIN_VARIABLE_PUBLIC_BASE_URL="http://$listen" \
        "$bin/konnekted-spin-host" up --from "$data/spin.toml" --runtime-config-file "$data/runtime-config.toml" \
        --listen "$listen" \
        --allow-outbound 'portal=http://127.0.0.1:*' --allow-outbound 'payments=http://127.0.0.1:*' \
        > "$data/spin-host.log" 2>&1 &
    pids+=($!)
    main_pid=$!
    for _ in $(seq 1 600); do
        curl -sf -o /dev/null "http://$listen/health" && break
        kill -0 "$main_pid" 2>/dev/null || break
        sleep 0.2
    done
    if ! curl -sf -o /dev/null "http://$listen/health"; then
        echo "run.sh --spin: konnekted-spin-host did not answer on $listen (log: $data/spin-host.log):" >&2
        tail -20 "$data/spin-host.log" >&2
        exit 1
    fi
    # Spin has no cron: this timer asks the component for the scheduled pass every 30 s.
    KONNEKTED_PLATFORM_TOKEN="$platform_token" \
        "$bin/konnekted" sweep --edge "http://$listen" --every 30 > "$data/sweep.log" 2>&1 &
    pids+=($!)
    cat "$data/demo.txt"
fi
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
if [ "$spin" = 1 ]; then
    cat <<MSG
Logs on Spin: $data/spin-host.log (the host), $data/demo.log (seed and simulators),
$data/sweep.log (the timer). The component: $wasm
MSG
fi
# Ready: a caller waiting for the instance (e.g. scripts/run-spin-check.sh) can go on.
echo "run.sh: ready"
wait "$main_pid"
