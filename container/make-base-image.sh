#!/usr/bin/env bash
# Builds the sandbox's base image from Debian packages, with no container registry:
# debootstrap a minimal bookworm root with everything agents use, then `docker import` it.
# Usage: container/make-base-image.sh [TAG]   (default tag: toolwire-base:bookworm)
# Needs root (debootstrap) and a reachable Debian mirror (DEBIAN_MIRROR, default deb.debian.org).
set -euo pipefail

tag="${1:-toolwire-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite="${DEBIAN_SUITE:-bookworm}"
packages="bash,coreutils,findutils,grep,sed,gawk,git,python3,ca-certificates,procps,less,diffutils,patch,tar,gzip,xz-utils"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag already present"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "installing debootstrap" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq debootstrap >/dev/null
fi

root="$(mktemp -d /var/tmp/toolwire-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT

echo "debootstrap $suite ($packages) into $root" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >&2

# Keep the image small: no apt lists, caches, docs or man pages.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*

echo "importing $root as $tag" >&2
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' \
  - "$tag" >/dev/null
echo "base image $tag built"
