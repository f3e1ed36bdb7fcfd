#!/usr/bin/env bash
# Builds the agent image with the engine's builder, sending only what the build needs as
# context (no bin/, .git or test data). Needs the base images of the Dockerfile, so a
# registry or a local copy of them.
# Usage: images/runner/build.sh [image-name]
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:-runfleet/runner:dev}
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
tar -c --exclude='*_test.go' --exclude=testdata go.mod go.sum cmd runner executors autoscaler images/runner \
  | docker build -f images/runner/Dockerfile \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" -t "$name" -
echo "built $name"
