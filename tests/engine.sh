#!/usr/bin/env bash
# tests/engine.sh CMD...: run CMD with a Docker engine and a containerd
# daemon that answer.
#
# On a fresh Debian machine (as root) it installs what runfleet's tests and
# demo need. When no Docker engine answers (DOCKER_HOST or the default
# socket) it starts dockerd with its socket and data under a temp dir; when
# no containerd answers at CONTAINERD_ADDRESS (default
# /run/containerd/containerd.sock) it starts one the same way, first, and a
# dockerd it starts uses that containerd (never a stale default socket). Both
# are stopped, and the temp dir removed, when CMD ends.
set -euo pipefail
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin

log() { printf '==> %s\n' "$*" >&2; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
command -v git >/dev/null || need+=(git)
command -v iptables >/dev/null || need+=(iptables)
command -v ip >/dev/null || need+=(iproute2)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
[ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || need+=(containernetworking-plugins)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "missing: ${need[*]} — install them (Debian: apt-get install ${need[*]})" >&2
    exit 1
  fi
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

tmp=
dockerd_pid=
containerd_pid=
stopall() {
  local rc=$?
  if [ -n "$dockerd_pid" ]; then
    log "stopping the Docker engine"
    kill "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 1; done
  fi
  if [ -n "$containerd_pid" ]; then
    log "stopping containerd"
    kill "$containerd_pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$containerd_pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$containerd_pid" 2>/dev/null || true
  fi
  if [ -n "$tmp" ]; then
    # Mounts containerd's snapshotter may have left behind.
    grep -o " $tmp[^ ]*" /proc/mounts 2>/dev/null | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$tmp" 2>/dev/null || true
  fi
  return $rc
}
trap stopall EXIT

mktmp() {
  [ -n "$tmp" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "no $1 answers, and starting one needs root" >&2
    exit 1
  fi
  tmp=$(mktemp -d /tmp/runfleet-engine.XXXXXX)
}

export CONTAINERD_ADDRESS="${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}"
if ! ctr -a "$CONTAINERD_ADDRESS" version >/dev/null 2>&1; then
  mktmp "containerd at $CONTAINERD_ADDRESS"
  c="$tmp/containerd"
  mkdir -p "$c"
  # The CRI plugin is not needed and only slows the start down.
  cat >"$c/config.toml" <<TOML
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$c/containerd.sock"
TOML
  log "starting containerd under $c"
  containerd --config "$c/config.toml" >"$c/containerd.log" 2>&1 &
  containerd_pid=$!
  export CONTAINERD_ADDRESS="$c/containerd.sock"
  for _ in $(seq 1 60); do ctr -a "$CONTAINERD_ADDRESS" version >/dev/null 2>&1 && break; sleep 0.5; done
  if ! ctr -a "$CONTAINERD_ADDRESS" version >/dev/null 2>&1; then
    echo "containerd did not start:" >&2
    tail -50 "$c/containerd.log" >&2
    exit 1
  fi
fi
ctr -a "$CONTAINERD_ADDRESS" version 2>/dev/null | sed -n 's/^ *Version: */containerd /p' | tail -1 >&2

if ! docker info >/dev/null 2>&1; then
  mktmp "Docker engine at ${DOCKER_HOST:-the default socket}"
  log "starting a Docker engine under $tmp"
  # dockerd is given the containerd above: left to itself it dials
  # /run/containerd/containerd.sock whenever that file exists, and a socket
  # left behind by a containerd that is gone makes it fail to start.
  # Per-job networks come from a pool of 256 /24s rather than Docker's
  # default of about 30 networks, which parallel suites can exhaust.
  dockerd --data-root "$tmp/data" --exec-root "$tmp/exec" --pidfile "$tmp/dockerd.pid" \
    --containerd "$CONTAINERD_ADDRESS" --default-address-pool base=10.200.0.0/16,size=24 \
    -H "unix://$tmp/docker.sock" >"$tmp/dockerd.log" 2>&1 &
  dockerd_pid=$!
  export DOCKER_HOST="unix://$tmp/docker.sock"
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  if ! docker info >/dev/null 2>&1; then
    echo "the Docker engine did not start:" >&2
    tail -50 "$tmp/dockerd.log" >&2
    exit 1
  fi
fi
docker version --format 'engine {{.Server.Version}} (API {{.Server.APIVersion}})' >&2

"$@"
