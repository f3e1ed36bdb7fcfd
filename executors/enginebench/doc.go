// Package enginebench measures job overhead across engines in one run:
// the Docker and containerd executors against each other and against
// their engine's raw container lifecycle, reported as ratios (make bench).
// Its raw baselines (Docker, Containerd: first byte and whole lifecycle
// of a container through the engine API alone) serve the end-to-end
// benchmarks under tests/ too.
package enginebench
