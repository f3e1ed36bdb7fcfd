package config

import (
	"errors"
	"fmt"
	"strings"
)

// A [[github]] or [[github_scale_set]] table with executor = "containerd"
// runs its runner containers on containerd; a [github.containerd]
// (or [github_scale_set.containerd]) sub-table says where the daemon is
// and how its objects are kept, with the names and meaning of
// [runners.containerd]'s engine keys. The runner container's own
// settings (runner_image, cpus, memory, pids_limit) stay in the table.

// GitHubContainerdFile is [github.containerd].
type GitHubContainerdFile struct {
	Address     string `toml:"address,omitempty"`
	Namespace   string `toml:"namespace,omitempty"`
	Snapshotter string `toml:"snapshotter,omitempty"`
	StateDir    string `toml:"state_dir,omitempty"`
	Bridge      string `toml:"bridge,omitempty"`
	Subnet      string `toml:"subnet,omitempty"`
}

// githubExecutor validates the executor of a [[github]] table and fills
// g.Executor and g.Containerd.
func githubExecutor(g *GitHub, gf GitHubFile) error {
	if g.Executor == "" {
		g.Executor = "docker"
	}
	switch g.Executor {
	case "docker":
		if gf.Containerd != nil {
			return errors.New(`a containerd sub-table needs executor = "containerd"`)
		}
		return nil
	case "containerd":
		if gf.DockerHost != "" {
			return errors.New(`docker_host does not apply to executor "containerd": set address in the containerd sub-table`)
		}
		cf := gf.Containerd
		if cf == nil {
			cf = &GitHubContainerdFile{}
		}
		// The engine keys are checked as [runners.containerd] checks them.
		c, _, err := containerdFromFile(RunnerFile{Containerd: &ContainerdFile{
			Address: cf.Address, Namespace: cf.Namespace, Snapshotter: cf.Snapshotter, StateDir: cf.StateDir,
			Bridge: cf.Bridge, Subnet: cf.Subnet,
		}}, func(string, string) {})
		if err != nil {
			// Its messages name [runners.containerd]; name the sub-table.
			return fmt.Errorf("containerd sub-table: %s", strings.TrimPrefix(err.Error(), "[runners.containerd] "))
		}
		g.Containerd = c
		return nil
	default:
		return fmt.Errorf("executor %q is not supported for GitHub runners (supported: docker, containerd)", g.Executor)
	}
}
