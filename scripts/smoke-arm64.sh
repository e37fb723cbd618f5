#!/usr/bin/env bash
# Runs the arm64 build (build/linux-arm64, from `make build-arm64`) under
# qemu-user on this x86_64 machine:
#   1. `gstreact setup` fills an arm64 cache ($GSTREACT_CACHE/linux-arm64)
#      with the models and the arm64 ONNX Runtime;
#   2. gst-inspect-1.0 (arm64, from the sysroot) loads libgstreact.so and
#      lists the five elements;
#   3. `gstreact run` plays a few MOT17 frames through the REACT pipeline
#      with its embedded NATS server and in-process cloud worker, and must
#      report boxes from the edge detector.
# Emulation is slow (about a minute for 8 frames at 1920x1080): this is not
# part of `make test`.
#
# Environment: SMOKE_ARM64_INPUT (a MOT image folder), SMOKE_ARM64_FRAMES
# (default 8), MODELS_FROM (folders with the .onnx files, space-separated;
# else setup downloads them), SMOKE_ARM64_TIMEOUT (seconds per step, default 600).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/arm64-common.sh

INPUT=${SMOKE_ARM64_INPUT:-../shared/assets/video/MOT17-04-FRCNN-mini/img1}
FRAMES=${SMOKE_ARM64_FRAMES:-8}
STEP_TIMEOUT=${SMOKE_ARM64_TIMEOUT:-600}
ELEMENTS=(reactdetect reacttrack reactcloud reactoverlay reactpublish)

./scripts/install-arm64-deps.sh --with-qemu
for f in "$ARM64_BUILD/gstreact" "$ARM64_BUILD/libgstreact.so"; do
  [ -f "$f" ] || arm64_die "$f missing; run make build-arm64 first"
done
[ -d "$INPUT" ] || arm64_die "no frames at $INPUT; set SMOKE_ARM64_INPUT to a MOT image folder (000001.jpg, ...)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The arm64 "device" has its own cache: the models plus the arm64 library
# (the arm64 `gstreact setup` fetches it from npm on the first run).
export GSTREACT_CACHE=$ARM64_CACHE/linux-arm64
arm64_qemu_env "$work"
guest() { timeout "$STEP_TIMEOUT" "$ARM64_QEMU" "$@"; }

step_start=$SECONDS
setup_args=()
for d in ${MODELS_FROM:-}; do # a space-separated list, as in the Makefile
  setup_args+=(--models-from "$d")
done
timeout "$STEP_TIMEOUT" ./scripts/setup-arm64-cache.sh "$GSTREACT_CACHE" "${setup_args[@]}" >"$work/setup.log" 2>&1 || {
  cat "$work/setup.log" >&2
  arm64_die "gstreact setup under qemu failed (models and ONNX Runtime for the arm64 cache $GSTREACT_CACHE)"
}
arm64_log "1/3 gstreact setup (arm64): $(tail -1 "$work/setup.log") [$((SECONDS - step_start)) s]"

step_start=$SECONDS
guest "$ARM64_SYSROOT/usr/bin/gst-inspect-1.0" --gst-plugin-path="$ARM64_BUILD" react >"$work/inspect.txt" 2>&1 || {
  cat "$work/inspect.txt" >&2
  arm64_die "gst-inspect-1.0 (arm64) could not load $ARM64_BUILD/libgstreact.so"
}
for e in "${ELEMENTS[@]}"; do
  grep -q "^  $e: " "$work/inspect.txt" || { cat "$work/inspect.txt" >&2; arm64_die "gst-inspect-1.0 (arm64) does not list $e"; }
done
arm64_log "2/3 gst-inspect-1.0 (arm64) lists ${ELEMENTS[*]} [$((SECONDS - step_start)) s]"

# A folder of the first FRAMES frames, so a full sequence also stays short.
mkdir "$work/frames"
shopt -s nullglob
n=0
for f in "$INPUT"/*.jpg; do
  [ "$n" -lt "$FRAMES" ] || break
  n=$((n + 1))
  ln -s "$(realpath "$f")" "$work/frames/$(printf %06d "$n").jpg"
done
[ "$n" -gt 0 ] || arm64_die "no .jpg frames in $INPUT"

step_start=$SECONDS
guest "$ARM64_BUILD/gstreact" run --input "$work/frames" --output none --quiet >"$work/run.log" 2>&1 || {
  cat "$work/run.log" >&2
  arm64_die "gstreact run (arm64) failed"
}
summary=$(grep '^summary:' "$work/run.log") || { cat "$work/run.log" >&2; arm64_die "gstreact run (arm64) printed no summary"; }
# summary: 8 frames in 32.5 s (0.2 fps), 146 boxes (18.2 per frame) [edge 36, tracked 110, cloud 0]
boxes=$(sed -n 's/.*, \([0-9]*\) boxes .*/\1/p' <<<"$summary")
edge=$(sed -n 's/.*\[edge \([0-9]*\),.*/\1/p' <<<"$summary")
[ "${boxes:-0}" -gt 0 ] && [ "${edge:-0}" -gt 0 ] || { cat "$work/run.log" >&2; arm64_die "gstreact run (arm64) produced no boxes: $summary"; }
arm64_log "3/3 gstreact run (arm64, embedded NATS, in-process worker) on $n frames of $INPUT [$((SECONDS - step_start)) s]:"
grep -E '^(summary:|followed |cloud:)' "$work/run.log" | sed 's/^/    /' >&2
arm64_log "ok"
