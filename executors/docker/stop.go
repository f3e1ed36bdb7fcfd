package docker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/docker/docker/api/types/container"

	"github.com/runfleet/runfleet/executors"
)

var _ executors.Stopper = (*Env)(nil)

// errStopped is why an Env whose processes Stop killed runs no more
// steps.
var errStopped = fmt.Errorf("docker: the job's containers were stopped: %w", executors.ErrEnvClosed)

// Stop kills the processes of the job's containers and waits until the
// engine reports each one not running (see executors.Stopper). A
// container already stopped or gone costs one engine call.
func (v *Env) Stop(ctx context.Context) error {
	v.markDead(errStopped)
	v.keepMu.Lock() // a keeper being started is recorded first
	defer v.keepMu.Unlock()
	ids := v.containerIDs()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.ex.cleanupTimeout)
	defer cancel()
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { errs[i] = v.ex.stopContainer(cctx, id) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("docker: stopping job %s: %w: %w", v.jobID, executors.ErrEngine, err)
	}
	return nil
}

// stopContainer kills container id's processes and waits until it is not
// running.
func (e *Executor) stopContainer(ctx context.Context, id string) error {
	if err := e.api.ContainerKill(ctx, id, "KILL"); err != nil {
		if isNotFound(err) || isNotRunning(err) {
			return nil
		}
		return fmt.Errorf("kill container %.12s: %w", id, err)
	}
	okC, errC := e.api.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case <-okC:
		return nil
	case err := <-errC:
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("wait for container %.12s to stop: %w", id, err)
	}
}
