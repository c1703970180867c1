#!/usr/bin/env bash
# Build the container image locally: a static x86_64 binary, checked to be static, on
# `scratch` (Dockerfile), with podman. Prints the image size and fails above 20 MB
# (SPEC §8). The release workflow builds the published multi-arch image with buildx.
# Podman and binutils are installed from Debian when missing.
#
#   scripts/build-image.sh [IMAGE_TAG]      (default localhost/vaktpost:dev)
#
# Environment: VAKTPOST_ENGINE=podman (default; vfs storage, which works without
# overlayfs) or docker; VAKTPOST_MAX_IMAGE_BYTES (default 20000000);
# VAKTPOST_STATIC_TARGET_DIR (default target).
set -euo pipefail
cd "$(dirname "$0")/.."
TAG="${1:-localhost/vaktpost:dev}"
TRIPLE=x86_64-unknown-linux-gnu
MAX_BYTES="${VAKTPOST_MAX_IMAGE_BYTES:-20000000}"
case "${VAKTPOST_ENGINE:-podman}" in
  podman) ENGINE=(podman --storage-driver=vfs) ;;
  docker) ENGINE=(docker) ;;
  *) echo "build-image: VAKTPOST_ENGINE must be podman or docker" >&2; exit 2 ;;
esac

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
need=()
if [ "${ENGINE[0]}" = podman ]; then
  command -v podman >/dev/null 2>&1 || need+=(podman)
  command -v runc >/dev/null 2>&1 || need+=(runc)
fi
command -v readelf >/dev/null 2>&1 || need+=(binutils)
if [ "${#need[@]}" -gt 0 ]; then
  echo "build-image: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# glibc, statically linked: hickory does DNS (no NSS), rustls + webpki-roots do TLS.
# The --target triple gives it its own directory, apart from the debug/test build.
# VAKTPOST_STATIC_TARGET_DIR puts this build elsewhere (.ci/run keeps one across fresh
# clones, so only vaktpost itself is recompiled there, not its dependencies).
TARGET_DIR="${VAKTPOST_STATIC_TARGET_DIR:-target}"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --locked --release --target "$TRIPLE" --target-dir "$TARGET_DIR" --bin vaktpost
BIN="$TARGET_DIR/$TRIPLE/release/vaktpost"

# Static means: no program interpreter (PT_INTERP) and no NEEDED shared libraries.
if readelf -lW "$BIN" | grep -q 'INTERP'; then
  echo "build-image: FAIL: $BIN has a program interpreter (dynamically linked)" >&2
  readelf -lW "$BIN" | grep -A1 INTERP >&2
  exit 1
fi
if readelf -dW "$BIN" 2>/dev/null | grep -q '(NEEDED)'; then
  echo "build-image: FAIL: $BIN needs shared libraries:" >&2
  readelf -dW "$BIN" | grep '(NEEDED)' >&2
  exit 1
fi
echo "build-image: $BIN is static ($(stat -c %s "$BIN") bytes)"

# Stage where the Dockerfile expects it (dist/linux-<arch>/, the only thing .dockerignore lets in).
mkdir -p dist/linux-amd64
cp -f "$BIN" dist/linux-amd64/vaktpost

VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
"${ENGINE[@]}" build --quiet --platform linux/amd64 --build-arg TARGETARCH=amd64 \
  --build-arg VERSION="$VERSION" -t "$TAG" -f Dockerfile . >/dev/null

SIZE="$("${ENGINE[@]}" image inspect --format '{{.Size}}' "$TAG")"
MB="$(awk -v b="$SIZE" 'BEGIN { printf "%.1f", b / 1000000 }')"
echo "build-image: $TAG is $SIZE bytes ($MB MB; limit $MAX_BYTES)"
if [ "$SIZE" -gt "$MAX_BYTES" ]; then
  echo "build-image: FAIL: image is larger than $MAX_BYTES bytes" >&2
  exit 1
fi
