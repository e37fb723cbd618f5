# Sourced by the *-arm64.sh scripts: where the arm64 tooling lives and the
# environment that cross-compiles for it (not executable on its own).
#
# The arm64 GStreamer headers and libraries live in a sysroot of extracted
# Debian packages under the user cache, not in the system's dpkg database:
# multiarch :arm64 -dev packages must match the amd64 ones version for
# version and can make apt hold back or replace amd64 packages, and this
# machine's x86_64 build must never change because someone built for arm64.

# ARM64_CACHE keeps the tooling apart from GSTREACT_CACHE where that is not
# the user cache (the Dockerfile's /opt/gst-react goes into the image).
# Exported: a script that runs another with GSTREACT_CACHE set to the arm64
# device's cache must not move the tooling with it.
export ARM64_CACHE=${ARM64_CACHE:-${GSTREACT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gst-react}}
ARM64_SYSROOT=${ARM64_SYSROOT:-$ARM64_CACHE/arm64-sysroot}
# The private apt state (lists, .deb cache, an empty dpkg status) that fills the sysroot.
ARM64_APT_DIR=${ARM64_APT_DIR:-$ARM64_CACHE/arm64-apt}
ARM64_TRIPLET=aarch64-linux-gnu
ARM64_CC=${ARM64_CC:-$ARM64_TRIPLET-gcc}
ARM64_BUILD=${ARM64_BUILD:-build/linux-arm64}

arm64_log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
arm64_die() { arm64_log "error: $*"; exit 1; }

# arm64_cross_env exports what `go build` needs to cross-compile the cgo
# packages against the sysroot: aarch64 gcc with --sysroot (its multiarch
# search paths then find /usr/lib/aarch64-linux-gnu inside the sysroot) and a
# pkg-config that reads only the sysroot's .pc files.
arm64_cross_env() {
  export GOOS=linux GOARCH=arm64 CGO_ENABLED=1
  export CC=$ARM64_CC
  export CGO_CFLAGS="-O2 -g --sysroot=$ARM64_SYSROOT"
  # rpath-link: the GStreamer libraries' own dependencies (libffi, libpcre2,
  # ...) resolve inside the sysroot too.
  export CGO_LDFLAGS="-O2 -g --sysroot=$ARM64_SYSROOT -Wl,-rpath-link,$ARM64_SYSROOT/usr/lib/$ARM64_TRIPLET:$ARM64_SYSROOT/lib/$ARM64_TRIPLET"
  export PKG_CONFIG_SYSROOT_DIR=$ARM64_SYSROOT
  export PKG_CONFIG_LIBDIR=$ARM64_SYSROOT/usr/lib/$ARM64_TRIPLET/pkgconfig:$ARM64_SYSROOT/usr/share/pkgconfig
  unset PKG_CONFIG_PATH
}

# arm64_qemu_env exports what runs the arm64 binaries under qemu-user here:
# the guest's dynamic linker and libraries come from the sysroot (qemu maps
# absolute paths into QEMU_LD_PREFIX first), and GStreamer scans plugins in
# process, since forking its arm64 gst-plugin-scanner would need binfmt_misc,
# which containers often lack. $1: a directory for a fresh plugin registry.
ARM64_QEMU=qemu-aarch64-static
arm64_qemu_env() {
  command -v "$ARM64_QEMU" >/dev/null || arm64_die "$ARM64_QEMU not found; run scripts/install-arm64-deps.sh --with-qemu"
  export QEMU_LD_PREFIX=$ARM64_SYSROOT
  export GST_REGISTRY_FORK=no
  export GST_REGISTRY=$1/registry-arm64.bin
  export GST_PLUGIN_SYSTEM_PATH_1_0=$ARM64_SYSROOT/usr/lib/$ARM64_TRIPLET/gstreamer-1.0
  unset GST_PLUGIN_PATH GST_PLUGIN_PATH_1_0 GSTREACT_ORT_LIB
}
