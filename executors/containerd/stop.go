package containerd

import (
	"context"
	"errors"
	"fmt"

	ctrd "github.com/containerd/containerd/v2/client"

	"github.com/runfleet/runfleet/executors"
)

var _ executors.Stopper = (*Env)(nil)

// errStopped is why an Env whose processes Stop killed runs no more
// steps.
var errStopped = fmt.Errorf("containerd: the job's containers were stopped: %w", executors.ErrEnvClosed)

// Stop kills the processes of the job's containers: each task is deleted
// with its processes killed, which returns once they are gone (see
// executors.Stopper). The containers, snapshots, network namespaces and
// volumes are left for Close.
func (v *Env) Stop(ctx context.Context) error {
	v.markDead(errStopped)
	v.keepMu.Lock() // a keeper being started is recorded first
	defer v.keepMu.Unlock()
	v.mu.Lock()
	containers := append([]ctrd.Container(nil), v.containers...)
	v.mu.Unlock()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.ex.cleanupTimeout)
	defer cancel()
	nctx := v.ex.withNS(cctx)
	var errs []error
	for _, c := range containers {
		if err := killTask(nctx, c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("containerd: stopping job %s: %w: %w", v.jobID, executors.ErrEngine, err)
	}
	return nil
}
