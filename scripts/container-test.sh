#!/usr/bin/env bash
# Runs the image built by container-build.sh: read-only root filesystem, non-root, config
# mounted read-only, and checks /health answers. Tries `podman run`; if this machine cannot
# run containers, runs the image's own root filesystem binary under the same user and a
# read-only view instead, and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
OUT=$TARGET_DIR/container
ARCHIVE=$OUT/konnekted-reconciler.oci.tar
[ -f "$ARCHIVE" ] || { echo "container-test: run scripts/container-build.sh first" >&2; exit 1; }
CONF=$(mktemp -d)
trap 'rm -rf "$CONF"' EXIT
# One tenant and one router that answer nothing (the daemon runs while it has routers);
# the sync key comes from the environment, as secrets do in production.
cat > "$CONF/reconciler.toml" <<'TOML'
listen = "0.0.0.0:9108"
[[tenant]]
realm = "probe"
edge_url = "http://127.0.0.1:9"
[[router]]
name = "probe-1"
tenant = "probe"
address = "127.0.0.1"
port = 9
username = "konnekted"
TOML
chmod -R a+rX "$CONF"
PORT=${KONNEKTED_CONTAINER_TEST_PORT:-19108}

health() {
  for _ in $(seq 1 50); do
    if body=$(curl -fsS "http://127.0.0.1:$PORT/health" 2>/dev/null); then
      echo "health: $body"; return 0
    fi
    sleep 0.2
  done
  return 1
}

export STORAGE_DRIVER=vfs
if command -v podman >/dev/null 2>&1 && \
   cid=$(podman run -d --rm --read-only -e KONNEKTED_SYNC_KEY_PROBE=probe-key --user 65532:65532 --cap-drop=all \
     -v "$CONF/reconciler.toml:/etc/konnekted/reconciler.toml:ro" -p "127.0.0.1:$PORT:9108" \
     "oci-archive:$ARCHIVE" 2>"$CONF/podman.err"); then
  trap 'podman rm -f "$cid" >/dev/null 2>&1 || true; rm -rf "$CONF"' EXIT
  health || { podman logs "$cid" >&2 || true; echo "container-test: no /health from the container" >&2; exit 1; }
  echo "container-test: ok (podman run, read-only rootfs, user 65532)"
else
  echo "container-test: podman cannot run containers here ($(head -c 300 "$CONF/podman.err" 2>/dev/null)); running the image's rootfs binary instead" >&2
  KONNEKTED_SYNC_KEY_PROBE=probe-key KONNEKTED_RECONCILER_LISTEN=127.0.0.1:$PORT setpriv --reuid=65532 --regid=65532 --clear-groups \
    "$OUT/rootfs/usr/local/bin/konnekted-reconciler" run --config "$CONF/reconciler.toml" &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true; rm -rf "$CONF"' EXIT
  health || { echo "container-test: no /health from the rootfs binary" >&2; exit 1; }
  echo "container-test: ok (rootfs binary as 65532; podman not exercised)"
fi
