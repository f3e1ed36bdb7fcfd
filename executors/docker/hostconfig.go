package docker

import (
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	"github.com/runfleet/runfleet/executors"
)

// keeperScript idles as the job container's main process and exits at
// once on SIGTERM, so a container without an entrypoint stays up for
// docker exec and stops fast.
const keeperScript = `trap 'exit 0' TERM; while :; do sleep 3600 & wait; done`

// defaultCaps is the capability set granted to unprivileged containers:
// enough for package managers and build tools (chown, setuid, binding low
// ports, chroot) but no NET_RAW, MKNOD or SYS_ADMIN.
var defaultCaps = []string{
	"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"NET_BIND_SERVICE", "SYS_CHROOT", "SETFCAP", "AUDIT_WRITE",
}

// securityConfig applies the privilege settings shared by job and service
// containers.
func (e *Executor) securityConfig(hc *container.HostConfig, privileged bool) {
	if privileged {
		hc.Privileged = true
		return
	}
	hc.SecurityOpt = []string{"no-new-privileges"}
	hc.CapDrop = []string{"ALL"}
	hc.CapAdd = append(append([]string(nil), defaultCaps...), e.extraCaps...)
}

// resources translates the contract's limits. MemorySwap 0 means "same as
// Memory" (no swap) in the contract, but "twice Memory" in Docker.
func resources(r executors.Resources) container.Resources {
	out := container.Resources{
		NanoCPUs:   r.NanoCPUs,
		Memory:     r.Memory,
		MemorySwap: r.MemorySwap,
	}
	if r.Memory > 0 && r.MemorySwap == 0 {
		out.MemorySwap = r.Memory
	}
	if r.PidsLimit > 0 {
		p := r.PidsLimit
		out.PidsLimit = &p
	}
	return out
}

// jobMounts translates spec mounts; volumes[i] names the per-job volume
// created for spec mount i (empty for binds).
func jobMounts(ms []executors.Mount, volumes []string) []mount.Mount {
	out := make([]mount.Mount, 0, len(ms))
	for i, m := range ms {
		mm := mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		if m.Volume {
			mm.Type, mm.Source = mount.TypeVolume, volumes[i]
		}
		out = append(out, mm)
	}
	return out
}

// jobEntrypoint returns the job container's entrypoint and command: the
// image's entrypoint override with its command, or the idle keeper.
func jobEntrypoint(img executors.Image) (entrypoint, cmd []string) {
	if len(img.Entrypoint) > 0 {
		return img.Entrypoint, img.Command
	}
	return []string{"/bin/sh", "-c", keeperScript}, nil
}
