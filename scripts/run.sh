#!/usr/bin/env bash
# Runs Konnekted locally on its embedded defaults: SQLite files in ./data, a demo ISP,
# the Daraja simulator in-process. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p konnekted --bin konnekted
exec target/release/konnekted serve --demo --data "${KONNEKTED_DATA_DIR:-data}" --listen "${KONNEKTED_LISTEN:-127.0.0.1:8080}"
