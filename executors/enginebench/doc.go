// Package enginebench measures job overhead across engines in one run:
// the Docker and containerd executors against each other and against
// their engine's raw container lifecycle, reported as ratios (make bench).
// It has no code of its own beyond the benchmarks.
package enginebench
