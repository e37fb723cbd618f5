#!/bin/sh
# Edge detection on a MOT-style image folder (img1/000001.jpg, ...), written as MP4.
#   pipelines/images-to-mp4.sh IMG_DIR OUTPUT.mp4 [INTERVAL] [FPS]
# Needs: `make setup build` (models and ONNX Runtime in the cache, build/libgstreact.so).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$here/../build}"
dir=$1 out=$2 interval=${3:-5} fps=${4:-30}
# queue: decoding runs on its own thread (another core) beside the analysis.
exec gst-launch-1.0 -e \
  multifilesrc location="$dir/%06d.jpg" start-index=1 caps="image/jpeg,framerate=$fps/1" \
  ! jpegdec ! videoconvert ! queue \
  ! reactdetect interval="$interval" ! reactoverlay \
  ! videoconvert ! x264enc speed-preset=veryfast tune=zerolatency ! h264parse ! mp4mux \
  ! filesink location="$out"
