#!/usr/bin/env bash
# Fills a gst-react cache for arm64 (the models and the arm64 ONNX Runtime)
# by running the arm64 `gstreact setup` under qemu-user: the cache of an edge
# image or device, built on x86_64.
#   scripts/setup-arm64-cache.sh CACHE_DIR [gstreact setup flags, e.g. --models-from DIR]
# Needs `make build-arm64` (build/linux-arm64/gstreact) and the qemu tools
# (scripts/install-arm64-deps.sh --with-qemu). The arm64 `gstreact setup`
# fetches ONNX Runtime's arm64 library itself, from the npm package pinned in
# models/manifest.json (it runs this machine's npm); a cache that has it
# already is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/arm64-common.sh

[ $# -ge 1 ] || arm64_die "usage: $0 CACHE_DIR [gstreact setup flags]"
target=$1
shift
[ -x "$ARM64_BUILD/gstreact" ] || arm64_die "$ARM64_BUILD/gstreact missing; run make build-arm64 first"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
arm64_qemu_env "$work"
mkdir -p "$target"
GSTREACT_CACHE=$target "$ARM64_QEMU" "$ARM64_BUILD/gstreact" setup "$@"
