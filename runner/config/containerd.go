package config

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
)

// ContainerdFile is [runners.containerd]: where the daemon is and how jobs
// are stored and run there, then the job-container settings with the
// names and meaning they have in [runners.docker].
type ContainerdFile struct {
	// Address is containerd's socket; default $CONTAINERD_ADDRESS or
	// /run/containerd/containerd.sock.
	Address string `toml:"address,omitempty"`
	// Namespace holds every object of the runner; default "runfleet".
	Namespace string `toml:"namespace,omitempty"`
	// Snapshotter unpacks images and holds container layers; default
	// "overlayfs".
	Snapshotter string `toml:"snapshotter,omitempty"`
	// Runtime is the runtime of job containers: a shim name such as
	// "io.containerd.runsc.v1", or an OCI runtime binary run by the runc
	// shim such as "crun"; default io.containerd.runc.v2 with runc.
	Runtime string `toml:"runtime,omitempty"`
	// StateDir holds per-job network namespaces, hosts files and volumes;
	// default /var/lib/runfleet/containerd.
	StateDir string `toml:"state_dir,omitempty"`
	// Bridge and Subnet are the job networks' bridge interface and IPv4
	// range; defaults rf-cni0 and 10.231.0.0/16.
	Bridge string `toml:"bridge,omitempty"`
	Subnet string `toml:"subnet,omitempty"`

	Image         string        `toml:"image"`
	PullPolicy    StringOrArray `toml:"pull_policy,omitempty"`
	CPUs          string        `toml:"cpus,omitempty"`
	Memory        string        `toml:"memory,omitempty"`
	MemorySwap    string        `toml:"memory_swap,omitempty"`
	PidsLimit     int64         `toml:"pids_limit,omitempty"`
	ShmSize       Size          `toml:"shm_size,omitempty"`
	DiskSize      Size          `toml:"disk_size,omitempty"`
	Privileged    bool          `toml:"privileged,omitempty"`
	ReadOnly      bool          `toml:"read_only,omitempty"`
	User          string        `toml:"user,omitempty"`
	Volumes       []string      `toml:"volumes,omitempty"`
	NetworkMode   string        `toml:"network_mode,omitempty"`
	ExtraHosts    []string      `toml:"extra_hosts,omitempty"`
	AllowedImages []string      `toml:"allowed_images,omitempty"`
	HelperImage   string        `toml:"helper_image,omitempty"`
	// BlockedEgressCIDRs: see DockerFile.
	BlockedEgressCIDRs []string `toml:"blocked_egress_cidrs,omitempty"`
}

// Containerd holds the typed engine settings of [runners.containerd]. Its
// job-container settings land in Runner.Docker, which describes the job
// container whichever executor runs it.
type Containerd struct {
	Address     string
	Namespace   string
	Snapshotter string
	StateDir    string
	Bridge      string
	Subnet      string
}

// containerdName is what containerd accepts as a namespace or snapshotter
// name (its identifiers package: alphanumerics, '.', '_', '-').
var containerdName = regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)

// containerdFromFile validates [runners.containerd] and returns the engine
// settings and the job-container settings. [runners.docker] is refused
// next to executor "containerd": one section says how jobs run.
func containerdFromFile(rf RunnerFile, warn func(key, msg string)) (Containerd, Docker, error) {
	if rf.Docker != nil {
		return Containerd{}, Docker{}, errors.New(`[runners.docker] does not apply to executor "containerd": put the job settings in [runners.containerd]`)
	}
	cf := rf.Containerd
	if cf == nil {
		cf = &ContainerdFile{}
	}
	c := Containerd{Address: cf.Address, Namespace: cf.Namespace, Snapshotter: cf.Snapshotter, StateDir: cf.StateDir,
		Bridge: cf.Bridge, Subnet: cf.Subnet}
	for _, f := range []struct{ key, v string }{{"namespace", c.Namespace}, {"snapshotter", c.Snapshotter}} {
		if f.v != "" && !containerdName.MatchString(f.v) {
			return c, Docker{}, fmt.Errorf("[runners.containerd] %s %q: want letters, digits, '.', '_' or '-'", f.key, f.v)
		}
	}
	if c.Bridge != "" && (len(c.Bridge) > 15 || !containerdName.MatchString(c.Bridge)) {
		return c, Docker{}, fmt.Errorf("[runners.containerd] bridge %q: want an interface name of at most 15 characters", c.Bridge)
	}
	if c.Subnet != "" {
		if _, n, err := net.ParseCIDR(c.Subnet); err != nil || n.IP.To4() == nil {
			return c, Docker{}, fmt.Errorf("[runners.containerd] subnet %q: want an IPv4 CIDR such as 10.231.0.0/16", c.Subnet)
		}
	}
	if c.StateDir != "" && !filepath.IsAbs(c.StateDir) {
		return c, Docker{}, fmt.Errorf("[runners.containerd] state_dir %q must be absolute", c.StateDir)
	}
	if c.Address != "" && !filepath.IsAbs(c.Address) {
		return c, Docker{}, fmt.Errorf("[runners.containerd] address %q: want the absolute path of containerd's socket", c.Address)
	}
	d, err := dockerFromFile(&DockerFile{
		Image: cf.Image, PullPolicy: cf.PullPolicy, CPUs: cf.CPUs, Memory: cf.Memory, MemorySwap: cf.MemorySwap,
		PidsLimit: cf.PidsLimit, ShmSize: cf.ShmSize, DiskSize: cf.DiskSize, Privileged: cf.Privileged, ReadOnly: cf.ReadOnly,
		Runtime: cf.Runtime, User: cf.User, Volumes: cf.Volumes, NetworkMode: cf.NetworkMode, ExtraHosts: cf.ExtraHosts,
		AllowedImages: cf.AllowedImages, HelperImage: cf.HelperImage, BlockedEgressCIDRs: cf.BlockedEgressCIDRs,
	}, "runners.containerd", warn)
	if err != nil {
		return c, d, fmt.Errorf("[runners.containerd]: %w", err)
	}
	return c, d, nil
}
