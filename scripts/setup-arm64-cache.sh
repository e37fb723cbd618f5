#!/usr/bin/env bash
# Fills a gst-react cache for arm64 (the models and the arm64 ONNX Runtime)
# by running the arm64 `gstreact setup` under qemu-user: the cache of an edge
# image or device, built on x86_64.
#   scripts/setup-arm64-cache.sh CACHE_DIR [gstreact setup flags, e.g. --models-from DIR]
# Needs `make build-arm64` (build/linux-arm64/gstreact) and the qemu tools
# (scripts/install-arm64-deps.sh --with-qemu). `gstreact setup` on arm64
# cannot fetch ONNX Runtime itself (its pinned downloads are x64), so it is
# handed the library that install-arm64-deps.sh took from the npm package.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/arm64-common.sh

[ $# -ge 1 ] || arm64_die "usage: $0 CACHE_DIR [gstreact setup flags]"
target=$1
shift
[ -x "$ARM64_BUILD/gstreact" ] || arm64_die "$ARM64_BUILD/gstreact missing; run make build-arm64 first"
[ -f "$ARM64_ORT_LIB" ] || arm64_die "$ARM64_ORT_LIB missing; run scripts/install-arm64-deps.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
arm64_qemu_env "$work"
mkdir -p "$target"
GSTREACT_CACHE=$target "$ARM64_QEMU" "$ARM64_BUILD/gstreact" setup --ort-lib "$ARM64_ORT_LIB" "$@"
