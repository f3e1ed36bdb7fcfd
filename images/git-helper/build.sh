#!/usr/bin/env bash
# Builds the sources helper image runfleet/git-helper:latest offline: the
# busybox image (images/busybox) plus the host's git (Debian package git)
# with the shared libraries it links. The agent fetches from GitLab into a
# store only it can see, then checks the job's commit out in a container of
# this image that sees only the job's project directory and the store,
# read-only: no command a job can influence runs on the host.
# The agent builds the same contents itself on an engine that lacks the
# default helper image (executors/helperimage, from the host's git and
# /bin/busybox); this script gives the tests and the demo theirs up front.
# Usage: images/git-helper/build.sh [image-name]
set -euo pipefail
name=${1:-runfleet/git-helper:latest}
git=$(command -v git || true)
[ -n "$git" ] || { echo "images/git-helper: need git (apt-get install git)" >&2; exit 1; }
git=$(readlink -f "$git")
base=${BASE_IMAGE:-runfleet/busybox:latest}
docker image inspect "$base" >/dev/null 2>&1 || {
  echo "images/git-helper: build $base first (images/busybox/build.sh)" >&2
  exit 1
}
root=$(mktemp -d)
cid=""
trap 'rm -rf "$root"; [ -z "$cid" ] || docker rm -f "$cid" >/dev/null' EXIT
# The shell and tools of the busybox image, then git on top.
cid=$(docker create "$base")
docker export "$cid" | tar -C "$root" -x
mkdir -p "$root/usr/bin" "$root/runfleet/store"
cp "$git" "$root/usr/bin/git"
# Local fetches run upload-pack, which is git itself under another name.
ln -s git "$root/usr/bin/git-upload-pack"
ln -s git "$root/usr/bin/git-receive-pack"
# The dynamic loader and the libraries git links, at the same paths.
for lib in $(ldd "$git" | awk '/=>/ {print $3} /^\t\/lib/ {print $1}'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
mkdir -p "$root/usr/share/git-core/templates"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/bin:/bin' \
  --change 'CMD ["/bin/sh"]' \
  --change 'LABEL dev.runfleet.image=git-helper' \
  - "$name" >/dev/null
echo "built $name"
