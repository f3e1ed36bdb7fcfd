package docker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/runfleet/runfleet/executors"
)

var _ executors.Stopper = (*Env)(nil)

// errStopped is why an Env whose processes Stop killed runs no more
// steps.
var errStopped = fmt.Errorf("docker: the job's containers were stopped: %w", executors.ErrEnvClosed)

// Stop kills the processes of the job's containers and waits until they
// are gone (stopContainer), see executors.Stopper. A container already
// stopped or gone costs one engine call.
func (v *Env) Stop(ctx context.Context) error {
	v.markDead(errStopped)
	v.keepMu.Lock() // a keeper being started is recorded first
	defer v.keepMu.Unlock()
	ids := v.containerIDs()
	procs := map[string]*containerProcs{}
	v.mu.Lock()
	if v.firstID != "" && v.firstProcs != nil {
		procs[v.firstID] = v.firstProcs
	}
	v.mu.Unlock()
	if v.containerID != "" {
		procs[v.containerID] = &v.procs
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.ex.cleanupTimeout)
	defer cancel()
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { errs[i] = v.ex.stopContainer(cctx, id, procs[id]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("docker: stopping job %s: %w: %w", v.jobID, executors.ErrEngine, err)
	}
	return nil
}

// initExitWait bounds how long stopContainer watches /proc for a killed
// container's init to exit before it asks the engine instead.
const initExitWait = 10 * time.Second

// stopContainer kills container id's processes and waits until they are
// gone. When procs locate its init in /proc, it SIGKILLs that init and
// waits for its exit there (the kernel ends every process of the
// container's PID namespace before its init's exit completes): the
// engine's kill would return only once it has torn the container down,
// hundreds of milliseconds later. Otherwise it asks the engine.
func (e *Executor) stopContainer(ctx context.Context, id string, procs *containerProcs) error {
	if procs != nil && procs.Of(id) && procs.KillInit() == nil {
		// The engine's kill would wait for its teardown of the container.
		pctx, cancel := context.WithTimeout(ctx, initExitWait)
		err := procs.AwaitInitExit(pctx)
		cancel()
		if err == nil {
			return nil
		}
	}
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
