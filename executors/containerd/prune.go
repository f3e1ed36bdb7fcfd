package containerd

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/containerd/v2/core/images"
	cerrdefs "github.com/containerd/errdefs"
)

// PruneImages removes every image of the executor's namespace that no
// container uses, as the agent does under disk pressure, and returns the
// bytes of their content as containerd reports them (content shared with
// a kept image is counted, but stays). Images of running jobs and
// services are in use and stay; containerd's garbage collector frees the
// content and snapshots once the image records are gone.
func (e *Executor) PruneImages(ctx context.Context) (uint64, error) {
	ctx = e.withNS(ctx)
	cs, err := e.client.Containers(ctx)
	if err != nil {
		return 0, engineErr("prune: list containers", err)
	}
	used := map[string]bool{}
	for _, c := range cs {
		info, err := c.Info(ctx)
		if err != nil {
			if !cerrdefs.IsNotFound(err) {
				return 0, engineErr("prune: container "+c.ID(), err)
			}
			continue
		}
		used[info.Image] = true
	}
	imgs, err := e.client.ImageService().List(ctx)
	if err != nil {
		return 0, engineErr("prune: list images", err)
	}
	var freed uint64
	var errs []error
	removed := 0
	for _, img := range imgs {
		if used[img.Name] {
			continue
		}
		size, err := img.Size(ctx, e.client.ContentStore(), nil)
		if err != nil {
			size = 0
		}
		// Synchronous: the space is free when PruneImages returns.
		if err := e.client.ImageService().Delete(ctx, img.Name, images.SynchronousDelete()); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete image %s: %w", img.Name, err))
			continue
		}
		removed++
		freed += uint64(max(size, 0))
	}
	e.log.InfoContext(ctx, "pruned unused images", "images", removed, "bytes", freed)
	if err := errors.Join(errs...); err != nil {
		return freed, engineErr("prune images", err)
	}
	return freed, nil
}
