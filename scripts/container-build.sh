#!/usr/bin/env bash
# Builds the reconciler container: static (musl) binaries of the reconciler and the RADIUS
# agent, then an OCI image FROM SCRATCH with buildah (no base image pulled). Non-root
# (65532), meant to run with a read-only root filesystem; config and secrets from mounted
# files or the environment; /health served on 9108 for the health check.
# Output: target/container/konnekted-reconciler.oci.tar (OCI archive) and its size.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
TRIPLE=x86_64-unknown-linux-musl

need() { command -v "$1" >/dev/null 2>&1; }
if ! need musl-gcc || ! need buildah; then
  apt-get update -qq && apt-get install -y -qq musl-tools buildah >/dev/null
fi
rustup target list --installed | grep -qx "$TRIPLE" || rustup target add "$TRIPLE"

# Cargo.toml's `container` profile: the release profile optimised for size, no debug info.
PROFILE=${KONNEKTED_CONTAINER_PROFILE:-container}
t=$SECONDS
CC_x86_64_unknown_linux_musl=musl-gcc cargo build --profile "$PROFILE" --target "$TRIPLE" \
  -p konnekted-reconciler -p konnekted-radius-agent
echo "container-build: static binaries built in $((SECONDS - t)) s (profile $PROFILE)"
BIN=$TARGET_DIR/$TRIPLE/$PROFILE
OUT=$TARGET_DIR/container
mkdir -p "$OUT"
rm -rf "$OUT/rootfs" && mkdir -p "$OUT/rootfs/usr/local/bin" "$OUT/rootfs/etc/konnekted"
cp "$BIN/konnekted-reconciler" "$BIN/konnekted-radius-agent" "$OUT/rootfs/usr/local/bin/"
strip "$OUT/rootfs/usr/local/bin/"* 2>/dev/null || true
printf 'konnekted:x:65532:65532:konnekted:/nonexistent:/sbin/nologin\n' > "$OUT/rootfs/etc/passwd"
printf 'konnekted:x:65532:\n' > "$OUT/rootfs/etc/group"
# The binaries must be static: nothing else is in the image.
if file "$OUT/rootfs/usr/local/bin/konnekted-reconciler" | grep -q dynamically; then
  echo "container-build: the reconciler is not static" >&2; exit 1
fi

export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah copy "$ctr" "$OUT/rootfs/" / >/dev/null
buildah config \
  --user 65532:65532 \
  --env KONNEKTED_RECONCILER_CONFIG=/etc/konnekted/reconciler.toml \
  --env KONNEKTED_RECONCILER_LISTEN=0.0.0.0:9108 \
  --env KONNEKTED_LOG_FORMAT=json \
  --port 9108 \
  --entrypoint '["/usr/local/bin/konnekted-reconciler"]' \
  --cmd 'run' \
  --label org.opencontainers.image.title=konnekted-reconciler \
  "$ctr"
buildah commit --format oci "$ctr" konnekted-reconciler:latest >/dev/null
rm -f "$OUT/konnekted-reconciler.oci.tar"
buildah push konnekted-reconciler:latest "oci-archive:$OUT/konnekted-reconciler.oci.tar:konnekted-reconciler:latest" >/dev/null
echo "image: $OUT/konnekted-reconciler.oci.tar ($(du -k "$OUT/konnekted-reconciler.oci.tar" | cut -f1) KiB archive)"
echo "binaries: $(du -k "$OUT/rootfs/usr/local/bin/konnekted-reconciler" | cut -f1) KiB reconciler, $(du -k "$OUT/rootfs/usr/local/bin/konnekted-radius-agent" | cut -f1) KiB radius agent"
