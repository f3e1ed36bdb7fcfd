package containerd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	cerrdefs "github.com/containerd/errdefs"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/proctree"
)

var _ executors.Stopper = (*Env)(nil)

// errStopped is why an Env whose processes Stop killed runs no more
// steps.
var errStopped = fmt.Errorf("containerd: the job's containers were stopped: %w", executors.ErrEnvClosed)

// Stop kills the processes of the job's containers and returns once they
// are gone (see executors.Stopper): for the job's containers whose init
// it can see in /proc, once that init has exited (the kernel ends every
// process of the container's PID namespace first), which comes before
// the engine reports it; for the others, by deleting the task with its
// processes killed. The containers, snapshots, network namespaces and
// volumes are left for Close.
func (v *Env) Stop(ctx context.Context) error {
	v.markDead(errStopped)
	v.keepMu.Lock() // a keeper being started is recorded first
	defer v.keepMu.Unlock()
	v.mu.Lock()
	containers := append([]ctrd.Container(nil), v.containers...)
	watched := map[string]watchedTask{}
	if f := v.first; f != nil {
		watched[containerID(v.jobID, "")] = watchedTask{f.task, f.procs}
	}
	v.mu.Unlock()
	if v.task != nil && v.container != nil { // Create's job container, or the keeper of later steps
		watched[v.container.ID()] = watchedTask{v.task, v.procs}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.ex.cleanupTimeout)
	defer cancel()
	nctx := v.ex.withNS(cctx)
	errs := make([]error, len(containers))
	var wg sync.WaitGroup
	for i, c := range containers {
		wg.Go(func() {
			if w, ok := watched[c.ID()]; ok && w.kill(nctx, c.ID()) {
				return
			}
			errs[i] = killTask(nctx, c)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("containerd: stopping job %s: %w: %w", v.jobID, executors.ErrEngine, err)
	}
	return nil
}

// watchedTask is a job container's task whose init Stop can see in /proc.
type watchedTask struct {
	task  ctrd.Task
	procs proctree.Procs
}

// initExitWait bounds how long Stop watches /proc for a killed task's
// init to exit before it deletes the task instead.
const initExitWait = 10 * time.Second

// kill SIGKILLs the task's processes and reports whether its init was
// then seen to exit; false leaves it to killTask.
func (w watchedTask) kill(ctx context.Context, id string) bool {
	if !w.procs.Of(id) {
		return false
	}
	if err := w.task.Kill(ctx, syscall.SIGKILL, ctrd.WithKillAll); err != nil && !cerrdefs.IsNotFound(err) {
		return false
	}
	wctx, cancel := context.WithTimeout(ctx, initExitWait)
	defer cancel()
	return w.procs.AwaitInitExit(wctx) == nil
}
