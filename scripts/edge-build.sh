#!/usr/bin/env bash
# Builds both edge artifacts and prints their sizes (raw and gzip -9):
#   * the Worker:          functions/workers/build/index.js + index_bg.wasm   (worker-build --release)
#   * the Spin component:  $CARGO_TARGET_DIR (default functions/spin/target)/wasm32-wasip2/release/konnekted_spin.wasm
#                          (spin-sdk 7, imports spin:sqlite + spin:variables: runs under `spin up`)
#   * its local variant:   the same under local/ (feature `local`: no spin:* imports, runs under `wasmtime serve`);
#                          only when asked for (`spin-local`): its own cold release build, and nothing in the test
#                          command serves it (scripts/edge-spin-local-smoke.sh does)
# Exits non-zero when a build fails or an artifact is missing.
#   scripts/edge-build.sh [workers|spin|spin-local]...     (default: workers and spin)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
what=("$@")
[ ${#what[@]} -eq 0 ] && what=(workers spin)
[[ " ${what[*]} " == *" workers "* ]] || export EDGE_TOOLS_ONLY=spin
# shellcheck source=scripts/edge-tools.sh
source "$repo/scripts/edge-tools.sh"

size() {
    if [ ! -s "$1" ]; then
        echo "edge-build: missing artifact $1" >&2
        exit 1
    fi
    printf '  %-72s raw %9d B   gzip %8d B\n' "${1#"$repo"/}" "$(stat -c %s "$1")" "$(gzip -9c "$1" | wc -c)"
}

for w in "${what[@]}"; do
    case "$w" in
    workers)
        t=$SECONDS
        (cd "$repo/functions/workers" && worker-build --release)
        echo "edge-build: worker built in $((SECONDS - t)) s"
        size "$repo/functions/workers/build/index_bg.wasm"
        size "$repo/functions/workers/build/index.js"
        ;;
    spin)
        t=$SECONDS
        (cd "$repo/functions/spin" && cargo build --release --target wasm32-wasip2 --target-dir "$spin_target")
        echo "edge-build: spin component built in $((SECONDS - t)) s"
        size "$SPIN_WASM"
        ;;
    spin-local)
        t=$SECONDS
        # Its own target folder: both builds write konnekted_spin.wasm, and cargo would take one for the other.
        (cd "$repo/functions/spin" && cargo build --release --target wasm32-wasip2 \
            --no-default-features --features local --target-dir "$spin_target/local")
        echo "edge-build: spin local variant built in $((SECONDS - t)) s"
        size "$SPIN_LOCAL_WASM"
        ;;
    *)
        echo "usage: $0 [workers|spin|spin-local]..." >&2
        exit 2
        ;;
    esac
done
