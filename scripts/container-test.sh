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
# KONNEKTED_REQUIRE_PODMAN=1 (the test command sets it): install podman and runc when missing, and fail instead of
# falling back when the container does not run.
if [ "${KONNEKTED_REQUIRE_PODMAN:-0}" = 1 ] && { ! command -v podman >/dev/null || ! command -v runc >/dev/null; }; then
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc >/dev/null
fi
# What podman needs on a machine like this one: runc (crun refuses a hybrid cgroup v1/v2 layout), and
# the rlimits it sets no higher than this process's hard limits (podman's defaults are higher, and raising
# a hard limit needs a capability a root without CAP_SYS_RESOURCE lacks; runc could not even set nproc to the
# current hard limit here).
podman_=(podman)
command -v runc >/dev/null 2>&1 && podman_=(podman --runtime runc)
# The reconciler's threads and sockets fit well inside these (nproc counts the threads of uid 65532).
limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=4096:4096")

if command -v podman >/dev/null 2>&1 && \
   podman load -q -i "$ARCHIVE" >"$CONF/load.out" 2>"$CONF/podman.err" && \
   cid=$("${podman_[@]}" run -d "${limits[@]}" --read-only -e KONNEKTED_SYNC_KEY_PROBE=probe-key \
     --user 65532:65532 --cap-drop=all --security-opt no-new-privileges \
     -v "$CONF/reconciler.toml:/etc/konnekted/reconciler.toml:ro" -p "127.0.0.1:$PORT:9108" \
     konnekted-reconciler:latest 2>>"$CONF/podman.err"); then
  trap 'podman rm -f "$cid" >/dev/null 2>&1 || true; rm -rf "$CONF"' EXIT
  health || { podman logs "$cid" >&2 || true; echo "container-test: no /health from the container" >&2; exit 1; }
  # What the container runs as, read from podman: read-only root filesystem, the image's user, no capabilities.
  got=$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}} {{.Config.User}} {{.EffectiveCaps}}' "$cid")
  echo "container: read-only rootfs, user, capabilities: $got"
  [[ "$got" == "true 65532:65532 []" ]] || { echo "container-test: expected 'true 65532:65532 []'" >&2; exit 1; }
  # Logs are JSON lines on stdout (the image sets KONNEKTED_LOG_FORMAT=json).
  sleep 0.5
  podman logs "$cid" 2>/dev/null | head -3 | tee "$CONF/log"
  head -1 "$CONF/log" | python3 -c 'import json,sys; d=json.loads(sys.stdin.readline()); assert "level" in d or "fields" in d, d' ||
    { echo "container-test: the first log line is not JSON" >&2; exit 1; }
  # SIGTERM stops it cleanly (exit 0) within podman's grace period.
  podman stop -t 10 "$cid" >/dev/null
  code=$(podman inspect --format '{{.State.ExitCode}}' "$cid")
  [ "$code" = 0 ] || { echo "container-test: the reconciler exited with $code on SIGTERM" >&2; exit 1; }
  # The image's second binary runs too.
  "${podman_[@]}" run --rm "${limits[@]}" --read-only --user 65532:65532 --cap-drop=all \
    --entrypoint /usr/local/bin/konnekted-radius-agent konnekted-reconciler:latest --version
  echo "container-test: ok (podman run: read-only rootfs, user 65532, no capabilities, JSON logs, clean stop on SIGTERM)"
elif [ "${KONNEKTED_REQUIRE_PODMAN:-0}" = 1 ]; then
  echo "container-test: podman could not run the image: $(head -c 600 "$CONF/podman.err" 2>/dev/null)" >&2
  exit 1
else
  echo "container-test: podman cannot run containers here ($(head -c 300 "$CONF/podman.err" 2>/dev/null)); running the image's rootfs binary instead" >&2
  KONNEKTED_SYNC_KEY_PROBE=probe-key KONNEKTED_RECONCILER_LISTEN=127.0.0.1:$PORT setpriv --reuid=65532 --regid=65532 --clear-groups \
    "$OUT/rootfs/usr/local/bin/konnekted-reconciler" run --config "$CONF/reconciler.toml" &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true; rm -rf "$CONF"' EXIT
  health || { echo "container-test: no /health from the rootfs binary" >&2; exit 1; }
  echo "container-test: ok (rootfs binary as 65532; podman not exercised)"
fi
