# syntax=docker/dockerfile:1
# gst-react images. Build from the repository root:
#   docker build --target edge  -t gst-react/edge .
#   docker build --target cloud -t gst-react/cloud .
# Multi-arch (linux/amd64 and linux/arm64; README "ARM64 edges"):
#   docker buildx build --platform linux/amd64,linux/arm64 --target edge -t gst-react/edge .
# (BuildKit, Docker's default builder since 23.0, sets TARGETARCH and BUILDARCH.)
# The build stage always runs on the builder's own platform: for an arm64
# image on an amd64 builder it cross-compiles (make build-arm64) instead of
# compiling Go under emulation; only the runtime stage's apt-get runs as arm64.
# The model files are not in the repository (licences); put the .onnx files
# in ./models-local/ (see models/manifest.json for where they come from), or
# let `gstreact setup` download them where the network allows.

ARG DEBIAN=bookworm

FROM --platform=$BUILDPLATFORM golang:1.26-${DEBIAN} AS build
ARG TARGETARCH BUILDARCH
RUN apt-get update && apt-get install -y --no-install-recommends \
      pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The arm64 cross tooling (cross gcc, arm64 sysroot, qemu-user to run the
# arm64 `gstreact setup`) in a layer of its own, kept out of /opt/gst-react,
# which goes into the image.
ENV ARM64_CACHE=/var/cache/gst-react-arm64
COPY scripts/arm64-common.sh scripts/install-arm64-deps.sh scripts/
RUN case "$TARGETARCH/$BUILDARCH" in \
      arm64/arm64) true ;; \
      arm64/*) scripts/install-arm64-deps.sh --with-qemu && rm -rf /var/lib/apt/lists/* ;; \
    esac
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Binaries into build/ and ONNX Runtime and models into /opt/gst-react (the
# cache the binaries look in). gstreact setup fetches ONNX Runtime for its
# own architecture: x64 from the release archive or npm, arm64 from npm.
ENV GSTREACT_CACHE=/opt/gst-react
RUN mkdir -p models-local && case "$TARGETARCH/$BUILDARCH" in \
      amd64/amd64) make cli plugin && build/gstreact setup --models-from models-local ;; \
      arm64/arm64) make cli plugin && build/gstreact setup --models-from models-local ;; \
      arm64/amd64) make build-arm64 && cp build/linux-arm64/gstreact build/linux-arm64/libgstreact.so build/ \
                     && scripts/setup-arm64-cache.sh "$GSTREACT_CACHE" --models-from models-local ;; \
      *) echo "no build for $TARGETARCH on a $BUILDARCH builder (amd64 and arm64 targets; arm64 from amd64 or arm64)" >&2; exit 1 ;; \
    esac

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
