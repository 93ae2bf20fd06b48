#!/usr/bin/env bash
# Install what unionfuse needs to build and test, from Debian/Ubuntu packages.
# Runs apt-get as root (directly, or through sudo).
set -euo pipefail

packages=(
  cmake gcc make pkg-config
  libfuse3-dev fuse3 libxxhash-dev uthash-dev libcriterion-dev
  attr busybox-static util-linux kmod passwd python3
  libarchive-dev libssl-dev libjansson-dev libarchive-tools zstd skopeo
  podman runc conmon uidmap catatonit valgrind libcap2-bin
)
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# FUSE for ordinary users, as every distribution sets it.
[ -c /dev/fuse ] && "${sudo[@]}" chmod 0666 /dev/fuse || true
