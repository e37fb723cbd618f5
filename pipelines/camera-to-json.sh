#!/bin/sh
# A camera (or any URI) through REACT, detections published as JSON lines, no video out.
#   pipelines/camera-to-json.sh URI DEST [NATS_URL]
#     URI:  rtsp://camera/stream, file:///path/video.mp4, ...
#     DEST: a file (one JSON object per frame, schema in elements/reactpublish/SCHEMA.md),
#           - for standard output, or nats to publish through JetStream on NATS_URL
#           (subject react.detections.stream0; nothing is lost while consumers are down)
# Needs `make setup build`, and for the cloud part a NATS server and a worker:
#   nats-server -c pipelines/nats.conf &  build/gstreact cloudworker &
# Without them the boxes are edge-only and reactcloud posts a warning.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$here/../build}"
uri=$1 dest=$2 nats=${3:-nats://127.0.0.1:4222}
if [ "$dest" = nats ]; then
  publish="reactpublish server=$nats jetstream=true"
else
  publish="reactpublish location=$dest"
fi
# queue: decoding runs on its own thread (another core) beside the analysis.
exec gst-launch-1.0 -e -q uridecodebin uri="$uri" ! videoconvert ! queue \
  ! reactdetect interval=5 ! reacttrack ! reactcloud server="$nats" \
  ! $publish ! fakesink sync=false
