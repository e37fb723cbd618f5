#!/usr/bin/env bash
# Cross-compiles the CLI and the GStreamer plugin for linux/arm64 into
# build/linux-arm64/ (cgo against the arm64 sysroot that
# install-arm64-deps.sh keeps in the user cache). Run from `make build-arm64`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/arm64-common.sh
GO=${GO:-go}

./scripts/install-arm64-deps.sh
arm64_cross_env
command -v "$CC" >/dev/null || arm64_die "$CC not found (install-arm64-deps.sh should have installed gcc-aarch64-linux-gnu)"

mkdir -p "$ARM64_BUILD"
start=$SECONDS
"$GO" build -o "$ARM64_BUILD/gstreact" ./cmd/gstreact
arm64_log "gstreact built in $((SECONDS - start)) s"
start=$SECONDS
"$GO" build -buildmode=c-shared -o "$ARM64_BUILD/libgstreact.so" ./plugin
rm -f "$ARM64_BUILD/libgstreact.h"
arm64_log "libgstreact.so built in $((SECONDS - start)) s"

for f in "$ARM64_BUILD/gstreact" "$ARM64_BUILD/libgstreact.so"; do
  readelf -h "$f" | grep -q 'Machine:.*AArch64' || arm64_die "$f is not an AArch64 ELF file"
done
arm64_log "done: $ARM64_BUILD/gstreact and $ARM64_BUILD/libgstreact.so (aarch64)"
arm64_log "ONNX Runtime for arm64: gstreact setup fetches it (npm onnxruntime-node, pinned in models/manifest.json)"
