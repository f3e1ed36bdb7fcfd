#!/usr/bin/env bash
# Builds runfleet/github-runner-stub:latest, a TEST DOUBLE of the GitHub
# Actions runner image: the stand-in runner (tests/githubrunner, which
# speaks only the fake GitHub's test protocol) and the real image's job
# hooks, on top of the offline runfleet/busybox:latest. No registry, no
# download: the engine's legacy builder.
# Usage: images/github-runner-stub/build.sh [image-name]
set -euo pipefail
name=${1:-runfleet/github-runner-stub:latest}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
(cd "$repo" && CGO_ENABLED=0 ${GO:-go} build -trimpath -ldflags '-s -w' -o "$ctx/githubrunner" ./tests/githubrunner)
cp -r "$repo/images/github-runner/hooks" "$ctx/hooks"
# The runner version the stand-in plays (runnerversion.Default), labelled as
# images/github-runner labels the real image.
version=$(sed -n 's/^\tDefault *= *"\([0-9.]*\)"$/\1/p' "$repo/runner/github/runnerversion/runnerversion.go")
[ -n "$version" ] || { echo "cannot read runnerversion.Default" >&2; exit 1; }
cat > "$ctx/run.sh" <<'RUN'
#!/bin/sh
# Stand-in for the official runner's run.sh (test double).
exec /usr/local/bin/githubrunner "$@"
RUN
cat > "$ctx/Dockerfile" <<'DF'
FROM runfleet/busybox:latest
COPY githubrunner /usr/local/bin/githubrunner
COPY hooks/ /opt/runfleet/hooks/
COPY run.sh /home/runner/run.sh
RUN echo 'runner:x:1001:1001:runner:/home/runner:/bin/sh' >> /etc/passwd && \
    echo 'runner:x:1001:' >> /etc/group && \
    chmod 0755 /usr/local/bin/githubrunner /home/runner/run.sh /opt/runfleet/hooks/*.sh && \
    chown -R 1001:1001 /home/runner
LABEL dev.runfleet.image=github-runner-stub dev.runfleet.github-runner.version=VERSION
USER runner
WORKDIR /home/runner
DF
sed -i "s/VERSION\$/$version/" "$ctx/Dockerfile"
if ! out=$(DOCKER_BUILDKIT=0 docker build -q -t "$name" "$ctx" 2>&1); then
  echo "$out" >&2
  exit 1
fi
echo "built $name"
