#!/bin/sh
# REACT on a video file or an image folder (MOT img1/): edge detector every
# INTERVAL frames, tracker in between, every 30th frame to the cloud worker over
# NATS, late cloud boxes fast-forwarded and fused; boxes drawn; H.264 MP4 out.
#   pipelines/react-to-mp4.sh INPUT OUTPUT [NATS_URL] [INTERVAL] [CLOUD_INTERVAL]
# Needs `make setup build` and, running beside it (any machine the URL reaches):
#   nats-server -c pipelines/nats.conf &                      # Debian's nats-server
#   build/gstreact cloudworker --nats nats://127.0.0.1:4222 &  # one or more workers
# Without a worker the output is edge-only and reactcloud posts a warning.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$here/../build}"
in=$1 out=$2 nats=${3:-nats://127.0.0.1:4222} interval=${4:-5} cloud_interval=${5:-30}
if [ -d "$in" ]; then
  first=$(ls "$in" | grep -E '^[0-9]+\.jpg$' | sort | head -n 1)
  [ -n "$first" ] || { echo "no NNNNNN.jpg frames in $in" >&2; exit 2; }
  set -- multifilesrc location="$in/%06d.jpg" start-index="$(expr "${first%.jpg}" + 0)" \
    caps="image/jpeg,framerate=30/1" ! jpegdec
else
  set -- filesrc location="$in" ! decodebin
fi
# queue: decoding runs on its own thread (another core) beside the analysis.
exec gst-launch-1.0 -e -m "$@" ! videoconvert ! queue \
  ! reactdetect interval="$interval" ! reacttrack \
  ! reactcloud server="$nats" interval="$cloud_interval" ! reactoverlay \
  ! videoconvert ! x264enc speed-preset=veryfast tune=zerolatency ! h264parse ! mp4mux \
  ! filesink location="$out"
