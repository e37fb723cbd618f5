#!/usr/bin/env bash
# Installs what gst-react needs from Debian (GStreamer, its plugins, NATS
# server, compilers) and a Go toolchain if none new enough is on PATH.
# Idempotent: packages already installed are skipped, so a second run takes a
# second or two. Needs root (or sudo) only when something is missing.
set -euo pipefail

GO_VERSION=${GO_VERSION:-1.26.0}
CACHE=${GSTREACT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gst-react}

PACKAGES=(
  build-essential pkg-config ca-certificates curl unzip git npm
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-x gstreamer1.0-rtsp nats-server fonts-dejavu-core
)

log() { printf '[install-deps] %s\n' "$*"; }

missing=()
for p in "${PACKAGES[@]}"; do
  # npm is only a fallback source of ONNX Runtime; an npm from elsewhere is fine.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "need root to install: ${missing[*]}"; exit 1; }
    SUDO=sudo
  fi
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages: all ${#PACKAGES[@]} present"
fi

# Go: anything >= 1.21 fetches the go.mod toolchain by itself; older or
# missing Go gets the official toolchain from the Go module proxy.
go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local v; v=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  [ -n "$v" ] || return 1
  local major=${v%%.*} rest=${v#*.}; local minor=${rest%%.*}
  [ "$major" -gt 1 ] || [ "$minor" -ge 21 ]
}
if go_ok; then
  log "Go: $(go env GOVERSION) at $(command -v go)"
else
  dest="$CACHE/go-$GO_VERSION"
  if [ ! -x "$dest/bin/go" ]; then
    log "Go >= 1.21 not found; fetching go$GO_VERSION from the Go module proxy"
    tmp=$(mktemp -d)
    curl -fsSL -o "$tmp/go.zip" "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-amd64.zip"
    unzip -q "$tmp/go.zip" -d "$tmp/x"
    mkdir -p "$CACHE"
    rm -rf "$dest"
    mv "$tmp/x/golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-amd64" "$dest"
    chmod +x "$dest"/bin/* "$dest"/pkg/tool/*/* 2>/dev/null || true
    rm -rf "$tmp"
  fi
  log "Go: $dest/bin/go (add $dest/bin to PATH to use it outside make)"
fi
