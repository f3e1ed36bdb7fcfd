#!/usr/bin/env bash
# Builds runfleet/job-base:bookworm without any image registry: debootstrap makes a minimal
# Debian bookworm root file system with git, ca-certificates, bash and curl from the Debian
# mirror, and `docker import` turns it into an image with the same contents, labels and
# command as images/job-base/Dockerfile. Takes about a minute; needs root and debootstrap
# (installed when missing).
# Usage: images/job-base/build-offline.sh [image-name]
#   DEBIAN_MIRROR=http://…/debian  overrides the mirror (default: the host's apt mirror,
#   else http://deb.debian.org/debian).
set -euo pipefail
name=${1:-runfleet/job-base:bookworm}
suite=bookworm

if [ "$(id -u)" -ne 0 ]; then
  echo "images/job-base: debootstrap needs root" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

host_mirror() {
  local uri=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}
mirror=${DEBIAN_MIRROR:-$(host_mirror)}

root=$(mktemp -d /tmp/runfleet-job-base.XXXXXX)
cleanup() {
  # debootstrap mounts proc and sys inside the target while it works; never delete through them.
  for m in proc sys dev/pts dev; do
    mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
  done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

echo "images/job-base: debootstrap $suite from $mirror"
debootstrap --variant=minbase --include=git,ca-certificates,bash,curl \
  "$suite" "$root" "$mirror" >/dev/null

# Same apt sources a registry-built image would have, and no caches.
echo "deb $mirror $suite main" > "$root/etc/apt/sources.list"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log "$root"/tmp/*
chroot "$root" /usr/bin/git --version >/dev/null
chroot "$root" /usr/bin/curl --version >/dev/null

tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["bash"]' \
  --change 'LABEL org.opencontainers.image.title="runfleet job-base"' \
  --change 'LABEL org.opencontainers.image.version="bookworm"' \
  --change 'LABEL org.opencontainers.image.source="https://github.com/runfleet/runfleet"' \
  --change 'LABEL dev.runfleet.image="job-base"' \
  - "$name" >/dev/null
echo "built $name"
