package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	cerrdefs "github.com/containerd/errdefs"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/proctree"
	"github.com/runfleet/runfleet/executors/internal/warmpool"
)

// ErrEnvClosed is executors.ErrEnvClosed, the one error of every
// executor for an Exec on a closed Env.
var ErrEnvClosed = executors.ErrEnvClosed

// Env is one job's environment: the job container and task, its
// services, network namespaces, volumes and lease.
type Env struct {
	ex      *Executor
	jobID   string
	env     []string
	workDir string
	user    string
	dir     string // StateDir/<node>/<job>: netns, hosts files, volumes

	// Set during Create, read-only afterwards.
	container  ctrd.Container
	task       ctrd.Task
	containers []ctrd.Container // job first, then services (then a keeper); under mu
	leaseID    string
	// refill is the warm pool refill this job owes (warmpool.Refill):
	// run once its task started, or at Close if it never did.
	refill *warmpool.Refill
	procs  proctree.Procs
	// A warm network namespace this Env took (warm.go): its ownership key
	// and directory, torn down with the job.
	warmKey, warmDir string

	// A first-step Env (firststep.go): its first step, and how to make
	// the keeper container of later steps, started by the first Exec
	// under keepMu (which sets container, task and procs then).
	first  *firstStep
	steps  *jobContainer
	keepMu sync.Mutex

	mu     sync.Mutex
	closed bool
	dead   error // why the job container can no longer run steps
	execN  int   // exec IDs handed out
}

var _ executors.Env = (*Env)(nil)

// ContainerID returns the job container's containerd ID.
func (v *Env) ContainerID() string {
	if v.container == nil {
		return ""
	}
	return v.container.ID()
}

// Close removes the job's containers, network namespaces, volumes and
// lease. It is idempotent and runs under context.WithoutCancel(ctx) with a
// timeout, so a cancelled job still cleans up.
func (v *Env) Close(ctx context.Context) error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil
	}
	v.closed = true
	v.mu.Unlock()
	v.refill.Run(ctx)
	// A keeper being started is recorded before its removal.
	v.keepMu.Lock()
	defer v.keepMu.Unlock()
	if v.first != nil {
		v.first.release()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.ex.cleanupTimeout)
	defer cancel()
	err := v.remove(v.ex.withNS(cctx))
	v.ex.release(v.jobID)
	return err
}

// remove deletes every object recorded in v; objects already gone are fine.
func (v *Env) remove(ctx context.Context) error {
	var errs []error
	v.mu.Lock()
	containers := append([]ctrd.Container(nil), v.containers...)
	v.mu.Unlock()
	// The job container first: services outlive it, as in Docker.
	for _, c := range containers {
		if err := v.ex.removeContainer(ctx, c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := v.ex.removeJobDir(ctx, v.dir); err != nil {
		errs = append(errs, err)
	}
	if v.warmDir != "" {
		if err := v.ex.removeJobDir(ctx, v.warmDir); err != nil {
			errs = append(errs, err)
		}
		v.ex.release(v.warmKey) // Reap retries what failed
	}
	if v.leaseID != "" {
		if err := v.ex.client.LeasesService().Delete(ctx, leases.Lease{ID: v.leaseID}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete lease %s: %w", v.leaseID, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("containerd: cleanup of job %s: %w: %w", v.jobID, executors.ErrEngine, err)
	}
	return nil
}

// removeContainer kills and deletes c's task, then c with its snapshot.
func (e *Executor) removeContainer(ctx context.Context, c ctrd.Container) error {
	if err := killTask(ctx, c); err != nil {
		return err
	}
	if err := c.Delete(ctx, ctrd.WithSnapshotCleanup); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("delete container %s: %w", c.ID(), err)
	}
	return nil
}

// killTask deletes c's task with its processes killed, returning once
// they are gone; a task already gone is fine.
func killTask(ctx context.Context, c ctrd.Container) error {
	task, err := c.Task(ctx, nil)
	switch {
	case err == nil:
		if _, err := task.Delete(ctx, ctrd.WithProcessKill); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("delete task %s: %w", c.ID(), err)
		}
	case !cerrdefs.IsNotFound(err):
		return fmt.Errorf("load task %s: %w", c.ID(), err)
	}
	return nil
}

// removeJobDir tears down the network namespaces in a job's state
// directory and removes it with its hosts files and volumes.
func (e *Executor) removeJobDir(ctx context.Context, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	var errs []error
	for _, de := range entries {
		if de.IsDir() && strings.HasPrefix(de.Name(), "net-") {
			if err := e.net.teardown(ctx, filepath.Join(dir, de.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := unmountVolumes(dir, entries); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err // keep the rest: nothing mounted may be deleted
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	_ = os.Remove(filepath.Dir(dir)) // the node's directory, once empty
	return nil
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

// addContainer records a created container for removal.
func (v *Env) addContainer(c ctrd.Container) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.containers = append(v.containers, c)
}

// nextExecID returns a fresh exec ID within the job's task.
func (v *Env) nextExecID() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.execN++
	return fmt.Sprintf("step-%d", v.execN)
}
