#!/usr/bin/env bash
# tests/engine.sh CMD...: run CMD with a Docker engine that answers.
# On a fresh Debian machine (as root) it installs what runfleet's tests and
# demo need, and when no engine answers it starts dockerd with its socket
# and data under a temp dir for the duration of CMD, then stops it.
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

if docker info >/dev/null 2>&1; then
  exec "$@"
fi
if [ "$(id -u)" != 0 ]; then
  echo "no Docker engine answers at ${DOCKER_HOST:-the default socket}, and starting one needs root" >&2
  exit 1
fi
tmp=$(mktemp -d /tmp/runfleet-engine.XXXXXX)
log "starting a Docker engine under $tmp"
dockerd --data-root "$tmp/data" --exec-root "$tmp/exec" --pidfile "$tmp/dockerd.pid" \
  -H "unix://$tmp/docker.sock" >"$tmp/dockerd.log" 2>&1 &
dockerd_pid=$!
stop() {
  [ -n "${dockerd_pid:-}" ] || return 0
  log "stopping the Docker engine"
  kill "$dockerd_pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 1; done
  rm -rf "$tmp" 2>/dev/null || true
  dockerd_pid=
}
trap stop EXIT
export DOCKER_HOST="unix://$tmp/docker.sock"
for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
if ! docker info >/dev/null 2>&1; then
  echo "the Docker engine did not start:" >&2
  tail -50 "$tmp/dockerd.log" >&2
  exit 1
fi
docker version --format 'engine {{.Server.Version}} (API {{.Server.APIVersion}})' >&2
"$@"
