package github

import (
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/runfleet/runfleet/executors"
)

// ToolCacheSharedPath is where a read-only shared tool cache is mounted;
// RUNNER_TOOL_CACHE then is the runner's own directory, which links every
// <tool>/<version> of the shared cache and takes the tools the job
// installs itself (gone with the runner).
const ToolCacheSharedPath = "/opt/runfleet/toolcache"

// toolCacheMounts returns the tool cache mounts of one runner. Writable
// mounts the shared directory read-write at ToolCachePath (tools a job
// installs stay for the next runners: only for runners of one repository
// that is trusted with it). Otherwise the shared directory is read-only
// at ToolCacheSharedPath and ToolCachePath is own, a fresh directory
// holding a link per shared <tool>/<version> (and per other entry): a job
// uses the cached tools and can change none of them for other jobs.
func toolCacheMounts(shared, own string, writable bool) ([]executors.Mount, error) {
	if err := os.MkdirAll(shared, 0o755); err != nil {
		return nil, fmt.Errorf("github: tool cache: %w", err)
	}
	if writable {
		// The runner runs as an unprivileged user of the image.
		if err := os.Chmod(shared, 0o777); err != nil {
			return nil, fmt.Errorf("github: tool cache: %w", err)
		}
		return []executors.Mount{{Source: shared, Target: ToolCachePath}}, nil
	}
	if err := os.Mkdir(own, 0o777); err != nil {
		return nil, fmt.Errorf("github: runner tool cache: %w", err)
	}
	// The runner runs as an unprivileged user of the image.
	if err := os.Chmod(own, 0o777); err != nil {
		return nil, fmt.Errorf("github: runner tool cache: %w", err)
	}
	tools, err := os.ReadDir(shared)
	if err != nil {
		return nil, fmt.Errorf("github: tool cache: %w", err)
	}
	for _, tool := range tools {
		if !tool.IsDir() {
			if err := os.Symlink(path.Join(ToolCacheSharedPath, tool.Name()), filepath.Join(own, tool.Name())); err != nil {
				return nil, fmt.Errorf("github: runner tool cache: %w", err)
			}
			continue
		}
		versions, err := os.ReadDir(filepath.Join(shared, tool.Name()))
		if err != nil {
			return nil, fmt.Errorf("github: tool cache: %w", err)
		}
		dir := filepath.Join(own, tool.Name())
		if err := os.Mkdir(dir, 0o777); err != nil {
			return nil, fmt.Errorf("github: runner tool cache: %w", err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			return nil, fmt.Errorf("github: runner tool cache: %w", err)
		}
		for _, v := range versions {
			target := path.Join(ToolCacheSharedPath, tool.Name(), v.Name())
			if err := os.Symlink(target, filepath.Join(dir, v.Name())); err != nil {
				return nil, fmt.Errorf("github: runner tool cache: %w", err)
			}
		}
	}
	return []executors.Mount{
		{Source: shared, Target: ToolCacheSharedPath, ReadOnly: true},
		{Source: own, Target: ToolCachePath},
	}, nil
}
