#!/usr/bin/env bash
# Builds runfleet/runner-dev:latest, the node image of the local docker fleet provider, offline:
# bin/runner (make build; static) + the host's iptables binaries and libraries copied onto
# runfleet/busybox:latest (make images).
# Usage: images/runner-dev/build.sh [image-name]
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:-runfleet/runner-dev:latest}
bin=${RUNNER_BIN:-bin/runner}
if [ ! -x "$bin" ] || ! (ldd "$bin" 2>&1 || true) | grep -q 'not a dynamic executable'; then
  echo "images/runner-dev: need a static $bin (make build)" >&2
  exit 1
fi
ipt=$(readlink -f "$(command -v iptables || echo /usr/sbin/iptables)")
if [ ! -x "$ipt" ]; then
  echo "images/runner-dev: need iptables on the host (apt-get install iptables)" >&2
  exit 1
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/usr/local/bin" "$root/usr/sbin" "$root/etc/runfleet" "$root/var/lib/runfleet"
cp "$bin" "$root/usr/local/bin/runner"
# iptables: the multi-call binary, its libraries, its extension modules.
cp "$ipt" "$root/usr/sbin/"
for n in iptables ip6tables; do ln -sf "$(basename "$ipt")" "$root/usr/sbin/$n"; done
for lib in $(ldd "$ipt" | grep -o '/[^ ]*'); do
  cp --parents -L "$lib" "$root"
done
# The modules (matches such as comment, targets such as REJECT) at the path iptables was built
# with; XTABLES_LIBDIR points there too.
xt=""
for d in /usr/lib/x86_64-linux-gnu/xtables /usr/lib/aarch64-linux-gnu/xtables /usr/lib64/xtables /usr/lib/xtables; do
  if [ -d "$d" ] && ls "$d"/*.so >/dev/null 2>&1; then xt=$d; break; fi
done
if [ -z "$xt" ]; then
  echo "images/runner-dev: no iptables modules (xtables) found on the host" >&2
  exit 1
fi
mkdir -p "$root$xt"
cp -L "$xt"/*.so "$root$xt/"
cp images/runner-dev/Dockerfile "$ctx/"
docker build -q --build-arg XTABLES_LIBDIR="$xt" -t "$name" "$ctx" >/dev/null
echo "built $name"
