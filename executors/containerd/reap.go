package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/snapshots"
	cerrdefs "github.com/containerd/errdefs"

	"github.com/runfleet/runfleet/executors"
)

// Reap removes every container (with its task and snapshot), snapshot,
// lease and job state directory (network namespaces torn down through
// CNI, volumes) labelled or filed for this node that no live Env of this
// Executor owns: what a killed agent left behind. It logs each removal.
func (e *Executor) Reap(ctx context.Context) error {
	_, err := e.ReapCount(ctx)
	return err
}

// ReapCount is Reap, also returning how many objects it removed.
func (e *Executor) ReapCount(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cleanupTimeout)
	defer cancel()
	ctx = e.withNS(ctx)
	filter := nodeFilter(e.node)
	var errs []error
	n := 0
	cs, err := e.client.Containers(ctx, filter)
	if err != nil {
		return 0, engineErr("reap: list containers", err)
	}
	for _, c := range cs {
		labels, err := c.Labels(ctx)
		if err != nil {
			if !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("container %s: %w", c.ID(), err))
			}
			continue
		}
		if e.isLive(labels[executors.LabelJob]) {
			continue
		}
		if err := e.removeContainer(ctx, c); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
		e.log.InfoContext(ctx, "reaped container", "id", c.ID(), "job", labels[executors.LabelJob])
	}
	sn := e.client.SnapshotService(e.snapshotter)
	var snaps []string
	err = sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if !e.isLive(info.Labels[executors.LabelJob]) {
			snaps = append(snaps, info.Name)
		}
		return nil
	}, filter)
	if err != nil {
		errs = append(errs, fmt.Errorf("list snapshots: %w", err))
	}
	for _, key := range snaps {
		if err := sn.Remove(ctx, key); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("snapshot %s: %w", key, err))
			continue
		}
		n++
		e.log.InfoContext(ctx, "reaped snapshot", "key", key)
	}
	m, err := e.reapJobDirs(ctx)
	n += m
	if err != nil {
		errs = append(errs, err)
	}
	ls, err := e.client.LeasesService().List(ctx, filter)
	if err != nil {
		errs = append(errs, fmt.Errorf("list leases: %w", err))
	}
	for _, l := range ls {
		if e.isLive(l.Labels[executors.LabelJob]) {
			continue
		}
		if err := e.client.LeasesService().Delete(ctx, leases.Lease{ID: l.ID}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("lease %s: %w", l.ID, err))
			continue
		}
		n++
		e.log.InfoContext(ctx, "reaped lease", "id", l.ID, "job", l.Labels[executors.LabelJob])
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("containerd: reap: %w: %w", executors.ErrEngine, err)
	}
	return n, nil
}

// reapJobDirs removes the state directories of this node's jobs that
// are not live, tearing down their network namespaces.
func (e *Executor) reapJobDirs(ctx context.Context) (int, error) {
	root := filepath.Join(e.stateDir, e.node)
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list job directories: %w", err)
	}
	var errs []error
	n := 0
	for _, de := range entries {
		if !de.IsDir() || e.isLive(de.Name()) {
			continue
		}
		if err := e.removeJobDir(ctx, filepath.Join(root, de.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
		e.log.InfoContext(ctx, "reaped job state", "job", de.Name())
	}
	return n, errors.Join(errs...)
}
