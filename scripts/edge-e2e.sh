#!/usr/bin/env bash
# The shared end-to-end suite (tests/) against the Worker under wrangler dev (workerd + local D1),
# then the edge smoke test (tenant isolation across D1 databases, cron). The Spin component's `spin` build on
# konnekted-spin-host is scripts/edge-spin-e2e.sh's; its `local` build under wasmtime, scripts/edge-spin-local-smoke.sh's.
#   scripts/edge-e2e.sh [suite]...   (default: every suite that runs on the Worker, then the smoke tests;
#                                     with suites named: only those, no smoke tests)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/edge-tools.sh
source scripts/edge-tools.sh
if [ $# -gt 0 ]; then scripts/edge-build.sh workers; else scripts/edge-build.sh; fi
port="${EDGE_E2E_PORT:-8787}"
eval "$(EDGE_SKIP_BUILD=1 scripts/edge-dev.sh start "$port")"
trap 'scripts/edge-dev.sh stop "$port" >/dev/null 2>&1 || true' EXIT
echo "e2e suite against the Worker at $KONNEKTED_BASE_URL"
# --workspace keeps the feature set of the native run above, so nothing is rebuilt. Every realm of
# these suites needs its database in the three manifests (tests/tests/manifests.rs checks it).
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(billing money sync vouchers cards cards_sim sms customer dashboard seeded_dashboard openapi console)
cargo test --workspace $(printf -- '--test %s ' "${suites[@]}") --no-fail-fast
scripts/edge-dev.sh stop "$port"
trap - EXIT
[ $# -gt 0 ] && exit 0
unset KONNEKTED_BASE_URL KONNEKTED_PLATFORM_TOKEN KONNEKTED_D1_STATE
EDGE_SKIP_BUILD=1 scripts/edge-smoke.sh
# The Spin component's `local` variant (no spin:* imports, under `wasmtime serve`) is not served here: its release
# build is a cold build of its own, and the real component runs every suite on konnekted-spin-host
# (scripts/edge-spin-e2e.sh). The test command lints it; scripts/edge-spin-local-smoke.sh serves it.
