#!/usr/bin/env bash
# Installs what cross-building gst-react for linux/arm64 needs, idempotently:
#   - host tools from Debian: the aarch64 cross gcc (and, with --with-qemu,
#     qemu-user-static for `make smoke-arm64`), plus npm, which the arm64
#     `gstreact setup` runs (under qemu too) to fetch ONNX Runtime's arm64
#     library (pinned in models/manifest.json);
#   - an arm64 sysroot of extracted Debian packages (GStreamer dev files and
#     the runtime plugins the smoke pipeline uses) in the user cache.
# A second run changes nothing and needs no network (a few ms). Set
# ARM64_SYSROOT_REFRESH=1 to rebuild the sysroot from the current archive.
# The x86_64 packages on this machine are left as they are: no dpkg
# architecture is added and no :arm64 package enters dpkg's database.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/arm64-common.sh

WITH_QEMU=0
for a in "$@"; do
  case $a in
    --with-qemu) WITH_QEMU=1 ;;
    *) arm64_die "unknown argument $a (usage: $0 [--with-qemu])" ;;
  esac
done

# Resolved with their dependencies: headers and .pc files for cgo, plus the
# runtime the smoke test runs under qemu (gst-inspect-1.0, multifilesrc,
# jpegdec, videoconvert; libstdc++ for ONNX Runtime).
SYSROOT_PACKAGES=(
  libc6-dev libstdc++6
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
)
# Taken without their dependencies: libgstrtspserver-1.0-0 depends (as a
# package) on gstreamer1.0-plugins-bad, and -dev on GObject introspection;
# that would add ~150 packages the link does not use. The library itself
# needs only GStreamer libraries that the list above brings.
SYSROOT_NODEPS_PACKAGES=(libgstrtspserver-1.0-0 libgstrtspserver-1.0-dev)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else arm64_die "need root to run: $*"
  fi
}

install_host_tools() {
  local want=(gcc-aarch64-linux-gnu pkg-config) missing=() p
  [ "$WITH_QEMU" = 1 ] && want+=(qemu-user-static)
  command -v npm >/dev/null 2>&1 || want+=(npm)
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    arm64_log "host tools: ${want[*]} present"
    return
  fi
  arm64_log "installing host tools: ${missing[*]}"
  as_root apt-get update -qq
  # Lock timeout: other engineers' apt runs on this machine wait rather than fail.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
}

# The private apt: arm64 only, its own lists, .deb cache and an empty dpkg
# status (so every dependency is resolved and fetched), the host's Debian
# sources and keys.
APT_OPTS=()
setup_private_apt() {
  local d=$ARM64_APT_DIR src
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/sources" "$d/preferences"
  : >"$d/status"
  # Debian's own repositories: the files a Debian system or image keeps them
  # in (third-party lists in sources.list.d may not serve arm64). Override
  # with ARM64_APT_SOURCES=FILE (.sources or .list).
  rm -f "$d/sources/"*
  for src in ${ARM64_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources /etc/apt/sources.list}; do
    [ -s "$src" ] && cp "$src" "$d/sources/"
  done
  ls "$d/sources/"* >/dev/null 2>&1 ||
    arm64_die "no Debian apt sources found (looked for /etc/apt/sources.list.d/debian.sources and /etc/apt/sources.list); set ARM64_APT_SOURCES"
  APT_OPTS=(
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64
    -o Dir::State::Lists="$d/lists" -o Dir::State::status="$d/status"
    -o Dir::Cache="$d/cache"
    -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$d/sources"
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts="$d/preferences"
    -o APT::Install-Recommends=0 -o APT::Install-Suggests=0
    # Only this script uses this state, and flock below serialises it.
    -o Debug::NoLocking=1
    # The state lives in the user's cache, which apt's _apt user cannot read.
    -o APT::Sandbox::User="$(id -un)"
  )
}

# What the sysroot was built from; a change to the lists rebuilds it.
sysroot_request() {
  printf '%s\n' "v1" "${SYSROOT_PACKAGES[*]}" "nodeps: ${SYSROOT_NODEPS_PACKAGES[*]}"
}

build_sysroot() {
  local stamp=$ARM64_SYSROOT/.gst-react-sysroot
  if [ "${ARM64_SYSROOT_REFRESH:-0}" != 1 ] && [ -f "$stamp" ] &&
    [ "$(head -3 "$stamp")" = "$(sysroot_request)" ]; then
    arm64_log "sysroot: $ARM64_SYSROOT ($(($(wc -l <"$stamp") - 3)) packages) up to date"
    return
  fi
  local start=$SECONDS
  setup_private_apt
  arm64_log "sysroot: resolving ${SYSROOT_PACKAGES[*]} for arm64"
  apt-get "${APT_OPTS[@]}" update -qq
  local archives=$ARM64_APT_DIR/cache/archives
  rm -f "$archives"/*.deb
  apt-get "${APT_OPTS[@]}" install -y -qq --download-only "${SYSROOT_PACKAGES[@]}" >/dev/null
  (cd "$archives" && apt-get "${APT_OPTS[@]}" download -qq "${SYSROOT_NODEPS_PACKAGES[@]}")
  local debs=("$archives"/*.deb)
  arm64_log "sysroot: extracting ${#debs[@]} packages"

  local new=$ARM64_SYSROOT.new deb
  rm -rf "$new"
  mkdir -p "$new/usr/bin" "$new/usr/sbin" "$new/usr/lib"
  # Merged /usr as on an installed Debian 12: /lib/ld-linux-aarch64.so.1 and
  # /usr/lib/... are then one tree, as the binaries and .pc files expect.
  ln -s usr/bin "$new/bin"
  ln -s usr/sbin "$new/sbin"
  ln -s usr/lib "$new/lib"
  sysroot_request >"$new/.gst-react-sysroot"
  for deb in "${debs[@]}"; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink --no-same-owner -C "$new"
    dpkg-deb -f "$deb" Package Version | paste -sd' ' >>"$new/.gst-react-sysroot"
  done
  # Absolute symlinks (libfoo.so -> /lib/aarch64-linux-gnu/libfoo.so.1) would
  # point into the host; make them relative so the linker and qemu follow
  # them inside the sysroot.
  local link target
  while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    ln -snf "$(realpath -m -s --relative-to="$(dirname "$link")" "$new$target")" "$link"
  done < <(find "$new" -type l -lname '/*' -print0)
  [ -f "$new/usr/lib/$ARM64_TRIPLET/pkgconfig/gstreamer-video-1.0.pc" ] ||
    arm64_die "sysroot: gstreamer-video-1.0.pc missing after extraction"
  rm -rf "$ARM64_SYSROOT.old"
  [ -d "$ARM64_SYSROOT" ] && mv "$ARM64_SYSROOT" "$ARM64_SYSROOT.old"
  mv "$new" "$ARM64_SYSROOT"
  rm -rf "$ARM64_SYSROOT.old"
  arm64_log "sysroot: $ARM64_SYSROOT ready, ${#debs[@]} packages, $(du -sh "$ARM64_SYSROOT" | cut -f1) in $((SECONDS - start)) s"
}

mkdir -p "$ARM64_CACHE"
# One sysroot install at a time (two makes at once share the cache).
exec 9>"$ARM64_CACHE/arm64-deps.lock"
flock 9
install_host_tools
build_sysroot
