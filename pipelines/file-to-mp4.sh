#!/bin/sh
# Edge detection on a video file, boxes drawn, written as H.264 MP4.
#   pipelines/file-to-mp4.sh INPUT.mp4 OUTPUT.mp4 [INTERVAL]
# Needs: `make setup build` (models and ONNX Runtime in the cache, build/libgstreact.so).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$here/../build}"
in=$1 out=$2 interval=${3:-5}
# queue: decoding runs on its own thread (another core) beside the analysis.
exec gst-launch-1.0 -e \
  filesrc location="$in" ! decodebin ! videoconvert ! queue \
  ! reactdetect interval="$interval" ! reactoverlay \
  ! videoconvert ! x264enc speed-preset=veryfast tune=zerolatency ! h264parse ! mp4mux \
  ! filesink location="$out"
