package containerd

import (
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runfleet/runfleet/executors"
)

// keeperScript idles as the job container's main process and exits at
// once on SIGTERM, so a container without an entrypoint stays up for
// execs and stops fast. Without an init it is PID 1: the shell's wait
// also reaps the orphans of steps.
const keeperScript = `trap 'exit 0' TERM; while :; do sleep 3600 & wait; done`

// initTarget is where the static init is bind-mounted in containers.
const initTarget = "/sbin/runfleet-init"

// defaultCaps is the capability set granted to unprivileged containers,
// the same as the Docker executor's: enough for package managers and
// build tools (chown, setuid, binding low ports, chroot) but no NET_RAW,
// MKNOD or SYS_ADMIN.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_SETFCAP", "CAP_AUDIT_WRITE",
}

// cfsPeriod is the CFS period used to express NanoCPUs as a quota.
const cfsPeriod = 100_000

// containerConfig is what the executor decides about one container,
// independent of the image (whose config is applied first).
type containerConfig struct {
	args       []string // main process argv, before the init prefix
	env        []string // KEY=VALUE over the image's
	cwd        string   // empty keeps the image's
	user       string   // empty keeps the image's (a first step's user)
	hostname   string
	mounts     []specs.Mount
	netnsPath  string // joined network namespace; empty = a new one
	initPath   string // host path of a static init; empty = none
	resources  executors.Resources
	privileged bool
	readOnly   bool
	extraCaps  []string
}

// specOpts returns the OCI spec options for c, applied after the image
// config: process, limits, mounts, namespaces and hardening.
func (c containerConfig) specOpts() []oci.SpecOpts {
	args := c.args
	// The job's own cgroups, read-only, as Docker shows them: jobs (and
	// the limit tests) read their limits there.
	mounts := append([]specs.Mount{{
		Type: "cgroup", Source: "cgroup", Destination: "/sys/fs/cgroup",
		Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"},
	}}, c.mounts...)
	if c.initPath != "" {
		args = append([]string{initTarget, "--"}, args...)
		mounts = append(mounts, specs.Mount{
			Type: "bind", Source: c.initPath, Destination: initTarget,
			Options: []string{"rbind", "ro", "nosuid", "nodev"},
		})
	}
	opts := []oci.SpecOpts{
		oci.WithProcessArgs(args...),
		oci.WithEnv(c.env),
		oci.WithHostname(c.hostname),
		oci.WithMounts(mounts),
	}
	if c.cwd != "" {
		opts = append(opts, oci.WithProcessCwd(c.cwd))
	}
	if c.user != "" {
		opts = append(opts, oci.WithUser(c.user))
	}
	if c.netnsPath != "" {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: c.netnsPath}))
	}
	opts = append(opts, resourceOpts(c.resources)...)
	if c.readOnly {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if c.privileged {
		return append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
	}
	return append(opts,
		oci.WithCapabilities(capSet(c.extraCaps)),
		oci.WithAmbientCapabilities(nil),
		oci.WithNoNewPrivileges,
		seccomp.WithDefaultProfile(),
	)
}

// resourceOpts translates the contract's limits. MemorySwap 0 means "same
// as Memory" (no swap), -1 unlimited swap.
func resourceOpts(r executors.Resources) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if r.NanoCPUs > 0 {
		opts = append(opts, oci.WithCPUCFS(r.NanoCPUs*cfsPeriod/1e9, cfsPeriod))
	}
	if r.Memory > 0 {
		swap := r.MemorySwap
		if swap == 0 {
			swap = r.Memory
		}
		opts = append(opts, oci.WithMemoryLimit(uint64(r.Memory)), oci.WithMemorySwap(swap))
	}
	if r.PidsLimit > 0 {
		opts = append(opts, oci.WithPidsLimit(r.PidsLimit))
	}
	if r.ShmSize > 0 {
		opts = append(opts, oci.WithDevShmSize((r.ShmSize+1023)/1024))
	}
	return opts
}

// capSet returns defaultCaps plus extra, normalised to "CAP_X" names.
func capSet(extra []string) []string {
	out := append([]string(nil), defaultCaps...)
	for _, c := range extra {
		c = strings.ToUpper(strings.TrimSpace(c))
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// jobArgs returns the job container's main process: the image's
// entrypoint override with its command, or the idle keeper.
func jobArgs(img executors.Image) []string {
	if len(img.Entrypoint) > 0 {
		return append(append([]string{}, img.Entrypoint...), img.Command...)
	}
	return []string{"/bin/sh", "-c", keeperScript}
}

// serviceArgs returns a service's main process from the image's
// entrypoint and command with the service's overrides, as Docker does: a
// new entrypoint drops the image's command.
func serviceArgs(img executors.Image, imgEntrypoint, imgCmd []string) []string {
	entry, cmd := imgEntrypoint, imgCmd
	if img.Entrypoint != nil {
		entry, cmd = img.Entrypoint, nil
	}
	if img.Command != nil {
		cmd = img.Command
	}
	return append(append([]string{}, entry...), cmd...)
}

// bindMounts translates spec mounts; volumes[i] is the host directory of
// the per-job volume for spec mount i (empty for binds).
func bindMounts(ms []executors.Mount, volumes []string) []specs.Mount {
	out := make([]specs.Mount, 0, len(ms))
	for i, m := range ms {
		src := m.Source
		if m.Volume {
			src = volumes[i]
		}
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		out = append(out, specs.Mount{Type: "bind", Source: src, Destination: m.Target, Options: []string{"rbind", mode}})
	}
	return out
}
