package gitlab

import (
	"path/filepath"
	"strconv"

	"github.com/runfleet/runfleet/executors"
)

// sourceStoresDir, under builds_dir, holds the slots' source stores. No
// job container mounts it: only the project directory and its file
// variables are mounted (jobMounts).
const sourceStoresDir = ".sources"

// sourceStore is the host path of the slot's bare repository for the
// job's project.
func (b *build) sourceStore() string {
	r := b.s.Runner
	return filepath.Join(r.BuildsDir, sourceStoresDir, r.ShortToken(), strconv.Itoa(b.slot), filepath.FromSlash(b.project)+".git")
}

// jobMounts are the job container's bind mounts of the build directory:
// the project directory and its file-variable directory, never the whole
// slot, so a job reaches no other project's sources.
func (b *build) jobMounts() []executors.Mount {
	return []executors.Mount{
		{Source: b.hostProjectDir(), Target: b.projectDir()},
		{Source: b.hostProjectDir() + ".tmp", Target: b.projectDir() + ".tmp"},
	}
}
