package docker

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	units "github.com/docker/go-units"

	"github.com/runfleet/runfleet/executors"
)

// diskPlan is how a job's DiskSize is enforced on this engine.
type diskPlan struct {
	rootfs  bool // HostConfig.StorageOpt size on the container layer
	volumes bool // per-job volumes are size-limited tmpfs
	notes   []string
}

// planDisk decides, from the engine's storage driver, what of
// spec.Resources.DiskSize can be enforced, and says so.
func (e *Executor) planDisk(ctx context.Context, spec executors.Spec) (diskPlan, error) {
	size := spec.Resources.DiskSize
	if size <= 0 {
		return diskPlan{}, nil
	}
	info, err := e.storageInfo(ctx)
	if err != nil {
		return diskPlan{}, err
	}
	human := units.BytesSize(float64(size))
	var p diskPlan
	if info.DiskQuota {
		p.rootfs = true
		p.notes = append(p.notes, fmt.Sprintf("Disk: the container's writable layer is capped at %s (storage driver %s)", human, info.StorageDriver))
	} else {
		p.notes = append(p.notes, fmt.Sprintf("Disk: the container's writable layer is NOT capped: storage driver %s on %s cannot enforce a size "+
			"(needs overlay2 on xfs with pquota, btrfs or zfs)", info.StorageDriver, info.BackingFilesystem))
	}
	var vols []string
	for _, m := range spec.Mounts {
		if m.Volume {
			vols = append(vols, m.Target)
		}
	}
	if len(vols) > 0 {
		p.volumes = true
		p.notes = append(p.notes, fmt.Sprintf("Disk: per-job volumes %s are capped at %s each (tmpfs, counted in the job's memory)", strings.Join(vols, ", "), human))
	}
	return p, nil
}

// storageInfo returns the engine's storage facts, asked once.
func (e *Executor) storageInfo(ctx context.Context) (EngineInfo, error) {
	e.mu.Lock()
	cached := e.info
	e.mu.Unlock()
	if cached != nil {
		return *cached, nil
	}
	info, err := e.Info(ctx)
	if err != nil {
		return info, err
	}
	e.mu.Lock()
	e.info = &info
	e.mu.Unlock()
	return info, nil
}

// tmpfsVolumeOpts are the local driver's options for a size-limited
// tmpfs volume.
func tmpfsVolumeOpts(size int64) map[string]string {
	return map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=" + strconv.FormatInt(size, 10)}
}
