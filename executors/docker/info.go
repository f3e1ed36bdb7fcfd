package docker

import (
	"context"
	"slices"
)

// EngineInfo describes the engine's storage as it matters to job limits.
type EngineInfo struct {
	ServerVersion     string
	StorageDriver     string
	BackingFilesystem string
	CgroupVersion     string
	// DiskQuota is true when the storage driver can enforce a per-container
	// size (HostConfig.StorageOpt "size"): overlay2 on xfs with pquota,
	// btrfs, zfs. It is inferred from the driver, not probed.
	DiskQuota bool
}

// Info reports the engine's storage driver and whether a per-container
// disk quota can be enforced.
func (e *Executor) Info(ctx context.Context) (EngineInfo, error) {
	in, err := e.api.Info(ctx)
	if err != nil {
		return EngineInfo{}, engineErr("info", err)
	}
	out := EngineInfo{ServerVersion: in.ServerVersion, StorageDriver: in.Driver, CgroupVersion: in.CgroupVersion}
	for _, kv := range in.DriverStatus {
		if kv[0] == "Backing Filesystem" {
			out.BackingFilesystem = kv[1]
		}
	}
	switch in.Driver {
	case "overlay2":
		out.DiskQuota = out.BackingFilesystem == "xfs"
	default:
		out.DiskQuota = slices.Contains([]string{"btrfs", "zfs", "devicemapper", "windowsfilter"}, in.Driver)
	}
	return out, nil
}
