package docker

import (
	"context"

	"github.com/docker/docker/api/types/filters"
)

// PruneImages removes every image no container uses (not only dangling
// ones), as the agent does under disk pressure, and returns the bytes
// reclaimed. Images of running jobs and services are in use and stay.
func (e *Executor) PruneImages(ctx context.Context) (uint64, error) {
	rep, err := e.api.ImagesPrune(ctx, filters.NewArgs(filters.Arg("dangling", "false")))
	if err != nil {
		return 0, engineErr("prune images", err)
	}
	e.log.InfoContext(ctx, "pruned unused images", "images", len(rep.ImagesDeleted), "bytes", rep.SpaceReclaimed)
	return rep.SpaceReclaimed, nil
}
