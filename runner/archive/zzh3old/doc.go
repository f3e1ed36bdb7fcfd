// Package archive builds and unpacks the zip archives that carry caches and
// job artifacts. Create selects paths under a build directory with
// gitlab-runner's glob rules (doublestar `**`, directories added recursively,
// exclusions, optionally git's untracked files) and writes a deterministic
// zip; Extract unpacks such a zip into a directory without ever writing
// outside it (no zip-slip, no writing through symlinks that leave the root).
package archive
