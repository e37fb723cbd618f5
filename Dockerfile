# syntax=docker/dockerfile:1
# gst-react images. Build from the repository root:
#   docker build --target edge  -t gst-react/edge .
#   docker build --target cloud -t gst-react/cloud .
# The model files are not in the repository (licences); put the .onnx files
# in ./models-local/ (see models/manifest.json for where they come from), or
# let `gstreact setup` download them where the network allows.

ARG DEBIAN=bookworm

FROM golang:1.26-${DEBIAN} AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make cli plugin
# ONNX Runtime and models into /opt/gst-react (the cache the binaries look in).
ENV GSTREACT_CACHE=/opt/gst-react
RUN mkdir -p models-local && build/gstreact setup --models-from models-local

FROM debian:${DEBIAN}-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends \
      gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
      gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp \
      libgstrtspserver-1.0-0 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
ENV GSTREACT_CACHE=/opt/gst-react \
    GST_PLUGIN_PATH=/usr/local/lib/gstreamer-1.0
COPY --from=build /opt/gst-react /opt/gst-react
COPY --from=build /src/build/gstreact /usr/local/bin/gstreact
COPY --from=build /src/build/libgstreact.so /usr/local/lib/gstreamer-1.0/libgstreact.so

# Edge: the CLI and the plugin; `gst-inspect-1.0 react` works inside.
FROM runtime AS edge
ENTRYPOINT ["gstreact"]
CMD ["run", "--help"]

# Cloud worker: the same binary in worker mode (the cloud model is yolox_nano_736x1280).
# Serves react.detect in queue group react-workers; run more containers to add
# capacity. Arguments after the image name replace CMD and override the flags
# in ENTRYPOINT (the last one wins), e.g.
#   docker run gst-react/cloud --nats nats://10.0.0.5:4222 --concurrency 2
# Prometheus metrics and a health check: :9090/metrics and :9090/healthz.
# docker stop waits 10 s before SIGKILL; the drain timeout stays under that
# (raise both together: docker stop -t 40 with --drain-timeout 30s).
FROM runtime AS cloud
EXPOSE 9090
ENTRYPOINT ["gstreact", "cloudworker", "--metrics-addr", ":9090", "--drain-timeout", "8s"]
CMD ["--nats", "nats://nats:4222"]
