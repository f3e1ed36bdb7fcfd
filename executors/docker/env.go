package docker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/warmpool"
)

// Env is one job's environment on the engine: the job container, its
// services, network and volumes.
type Env struct {
	ex      *Executor
	jobID   string
	env     []string
	workDir string
	user    string

	// Set during Create, read-only afterwards.
	containerID string
	serviceIDs  []string
	networkID   string
	warmKey     string // ownership key of a warm network this Env took
	// refill is the warm pool refill this job owes (warmpool.Refill):
	// run once its container started, or at Close if it never did.
	refill  *warmpool.Refill
	volumes []string
	procs   containerProcs

	// A first-step Env (CreateFirstStep): the container created with the
	// first step as its process, and how to make the keeper container
	// that Exec starts on demand (containerID and procs are set then).
	firstID  string
	firstEnd []byte // what the first step's wrapper writes after the step's output
	// firstLate is a late first step's end line (lateWrapper); empty
	// when the step was given at creation.
	firstLate string
	steps     *jobContainer
	keepMu    sync.Mutex // held while the keeper starts, and by remove

	mu          sync.Mutex
	firstUsed   bool
	prestarting bool
	// firstProcs locate the first-step container's init once it started
	// (watchFirstInit): Stop then sees its end in /proc, sooner than the
	// engine reports it.
	firstProcs *containerProcs
	firstAtt   *types.HijackedResponse // a prestarted first step's streams, the gate open
	closed     bool
	dead       error // why the job container can no longer run steps

	// The first step's engine watch (enginestop.go), under mu.
	watch *engineWatch
}

var _ executors.Env = (*Env)(nil)

// ContainerID returns the engine ID of the container Exec runs steps in
// (empty for a first-step Env until its first Exec).
func (v *Env) ContainerID() string {
	v.keepMu.Lock()
	defer v.keepMu.Unlock()
	return v.containerID
}

// Close removes the job's containers, network and volumes. It is
// idempotent and runs under context.WithoutCancel(ctx) with a timeout, so
// a cancelled job still cleans up.
func (v *Env) Close(ctx context.Context) error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil
	}
	v.closed = true
	att := v.firstAtt
	v.firstAtt = nil
	v.mu.Unlock()
	v.refill.Run(ctx)
	if att != nil {
		att.Close()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.ex.cleanupTimeout)
	defer cancel()
	err := v.remove(cctx)
	v.ex.release(v.jobID)
	return err
}

// remove deletes every object recorded in v; objects already gone are fine.
func (v *Env) remove(ctx context.Context) error {
	v.keepMu.Lock()
	defer v.keepMu.Unlock()
	var errs []error
	ids := v.containerIDs()
	// The containers go together: each removal waits for the engine to
	// stop and unmount its container.
	cerrs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			err := v.ex.api.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !isNotFound(err) {
				cerrs[i] = fmt.Errorf("remove container %.12s: %w", id, err)
			}
		})
	}
	wg.Wait()
	errs = append(errs, cerrs...)
	if v.networkID != "" {
		if err := v.ex.api.NetworkRemove(ctx, v.networkID); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %.12s: %w", v.networkID, err))
		}
	}
	if v.warmKey != "" {
		v.ex.release(v.warmKey)
	}
	for _, name := range v.volumes {
		if err := v.ex.api.VolumeRemove(ctx, name, true); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("docker: cleanup of job %s: %w: %w", v.jobID, executors.ErrEngine, err)
	}
	return nil
}

// containerIDs are the job's containers: the first step's, the keeper's,
// then the services'. Call with keepMu held.
func (v *Env) containerIDs() []string {
	var ids []string
	for _, id := range []string{v.firstID, v.containerID} {
		if id != "" {
			ids = append(ids, id)
		}
	}
	return append(ids, v.serviceIDs...)
}

// usable returns why Exec cannot run, or nil.
func (v *Env) usable() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return ErrEnvClosed
	}
	return v.dead
}

// markDead records that the job container can no longer run steps.
func (v *Env) markDead(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.dead == nil {
		v.dead = err
	}
}
