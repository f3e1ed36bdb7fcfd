package docker

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/runfleet/runfleet/executors"
)

// Reap removes every container, network and volume labelled for this
// node that no live Env of this Executor owns: what a killed agent left
// behind. It logs each object it removes.
func (e *Executor) Reap(ctx context.Context) error {
	_, err := e.ReapCount(ctx)
	return err
}

// ReapCount is Reap, also returning how many objects it removed.
func (e *Executor) ReapCount(ctx context.Context) (int, error) {
	return e.reap(ctx, labelFilter(e.node), e.isLive)
}

// reapJob removes every object labelled for jobID, which no live Env owns
// (a Create that failed or was cancelled): found by label, it includes
// objects whose creation answer was lost.
func (e *Executor) reapJob(ctx context.Context, jobID string) error {
	f := labelFilter(e.node)
	f.Add("label", executors.LabelJob+"="+jobID)
	_, err := e.reap(ctx, f, func(string) bool { return false })
	return err
}

// reap removes the objects matching f whose job is not live.
func (e *Executor) reap(ctx context.Context, f filters.Args, live func(jobID string) bool) (int, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cleanupTimeout)
	defer cancel()
	var errs []error
	n := 0
	cs, err := e.api.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return 0, engineErr("reap: list containers", err)
	}
	for _, c := range cs {
		if live(c.Labels[executors.LabelJob]) {
			continue
		}
		err := e.api.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("container %.12s: %w", c.ID, err))
			continue
		}
		n++
		e.log.InfoContext(ctx, "reaped container", "id", c.ID, "names", c.Names, "job", c.Labels[executors.LabelJob])
	}
	nets, err := e.api.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return n, engineErr("reap: list networks", err)
	}
	for _, nw := range nets {
		if live(nw.Labels[executors.LabelJob]) {
			continue
		}
		if err := e.api.NetworkRemove(ctx, nw.ID); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("network %s: %w", nw.Name, err))
			continue
		}
		n++
		e.log.InfoContext(ctx, "reaped network", "name", nw.Name, "job", nw.Labels[executors.LabelJob])
	}
	vols, err := e.api.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return n, engineErr("reap: list volumes", err)
	}
	for _, vol := range vols.Volumes {
		if live(vol.Labels[executors.LabelJob]) {
			continue
		}
		if err := e.api.VolumeRemove(ctx, vol.Name, true); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("volume %s: %w", vol.Name, err))
			continue
		}
		n++
		e.log.InfoContext(ctx, "reaped volume", "name", vol.Name, "job", vol.Labels[executors.LabelJob])
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("docker: reap: %w: %w", executors.ErrEngine, err)
	}
	return n, nil
}
