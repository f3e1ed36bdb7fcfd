#!/bin/sh
# A stand-in build step for the demo project.
set -e
mkdir -p out
echo "built at $(date -u +%FT%TZ)" > out/build.txt
cat out/build.txt
