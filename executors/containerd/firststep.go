package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/pkg/cio"
	cerrdefs "github.com/containerd/errdefs"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/proctree"
)

var (
	_ executors.FirstStepCreator = (*Executor)(nil)
	_ executors.FirstStepEnv     = (*Env)(nil)
)

// keeperSuffix names the container that a first-step Env starts for the
// steps after the first one.
const keeperSuffix = "steps"

// firstStep is the job container created with the first step as its
// process, its task created and not started.
type firstStep struct {
	task  ctrd.Task
	out   *switchWriter // the task's stdout and stderr, to RunFirst's writer
	procs proctree.Procs
	used  bool // under Env.mu
}

// CreateFirstStep is Create with the job container's task created, not
// started, with first as its process (see executors.FirstStepCreator).
// The container gets the same configuration as Create's job container:
// only its process (argv, environment, directory, user) differs. Its
// POSIX shell merges stderr into stdout, as Exec does.
func (e *Executor) CreateFirstStep(ctx context.Context, spec executors.Spec, first executors.Step) (executors.FirstStepEnv, error) {
	env, err := e.newEnv(ctx, spec, &first)
	if err != nil {
		return nil, err
	}
	return env, nil
}

// createFirst creates the first step's container and task and remembers
// how to make the keeper container for later steps.
func (e *Executor) createFirst(ctx context.Context, env *Env, j *jobContainer, spec executors.Spec, step executors.Step) error {
	cfg := j.cfg
	cfg.args = stepCmd(step)
	cfg.env = mergeEnv(spec.Env, step.Env)
	cfg.cwd = firstNonEmpty(step.WorkDir, spec.WorkDir)
	cfg.user = firstNonEmpty(step.User, spec.User)
	out := &switchWriter{w: io.Discard}
	c, task, err := e.newTask(ctx, env, j.id, j.image, j.labels, cfg, j.runtime, cio.NewCreator(cio.WithStreams(nil, out, out)))
	if err != nil {
		return err
	}
	env.first = &firstStep{task: task, out: out, procs: proctree.New(int(task.Pid()))}
	env.container = c
	keeper := *j
	keeper.id = containerID(spec.JobID, keeperSuffix)
	env.steps = &keeper
	return nil
}

// RunFirst starts the first step's task and streams its output until it
// exits (see executors.FirstStepEnv). The step's processes are the task's,
// so on cancellation the task is killed: that stops them all. Output
// written after RunFirst returned (by processes the step left, before
// they die with the task) is dropped.
func (v *Env) RunFirst(ctx context.Context, out io.Writer) (executors.Result, error) {
	f, err := v.takeFirst()
	if err != nil {
		return executors.Result{}, err
	}
	start := v.ex.now()
	// Engine calls outlive ctx: a cancelled step is still killed and
	// waited for.
	bg, cancelBG := context.WithTimeout(v.ex.withNS(context.WithoutCancel(ctx)), 24*time.Hour)
	defer cancelBG()
	f.out.set(out)
	defer f.out.set(io.Discard)
	oomBefore := f.procs.OOMKills()
	statusC, err := f.task.Wait(bg)
	if err != nil {
		return executors.Result{}, firstFailure(ctx, "wait for first step", err)
	}
	if err := f.task.Start(bg); err != nil {
		return executors.Result{}, firstFailure(ctx, "start first step", err)
	}
	var status ctrd.ExitStatus
	select {
	case status = <-statusC:
	case <-ctx.Done():
		kctx, cancel := context.WithTimeout(bg, v.ex.cleanupTimeout)
		defer cancel()
		var kerr error
		if err := f.task.Kill(kctx, syscall.SIGKILL, ctrd.WithKillAll); err != nil && !cerrdefs.IsNotFound(err) {
			kerr = engineErr("kill first step", err)
		} else {
			v.ex.log.InfoContext(ctx, "killed the job container of a cancelled first step", "job", v.jobID)
		}
		awaitExit(statusC, drainAfterKill)
		res := executors.Result{ExitCode: -1, Duration: v.ex.now().Sub(start)}
		return res, fmt.Errorf("containerd: step cancelled: %w", errors.Join(ctx.Err(), kerr))
	}
	drainIO(f.task.IO())
	if err := status.Error(); err != nil {
		return executors.Result{}, firstFailure(ctx, "first step status", err)
	}
	res := executors.Result{ExitCode: int(status.ExitCode()), Duration: v.ex.now().Sub(start)}
	if res.ExitCode != 0 && oomBefore >= 0 {
		res.OOMKilled = f.procs.OOMKills() > oomBefore
	}
	return res, nil
}

// takeFirst returns the first step, once, if the Env is usable.
func (v *Env) takeFirst() (*firstStep, error) {
	if err := v.usable(); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.first == nil || v.first.used {
		return nil, fmt.Errorf("containerd: job %s: %w", v.jobID, executors.ErrFirstStepUsed)
	}
	v.first.used = true
	return v.first, nil
}

// firstFailure wraps an engine error of RunFirst: as ErrEngine, or with
// ctx's error when the caller gave up.
func firstFailure(ctx context.Context, op string, err error) error {
	if ctx.Err() == nil {
		return engineErr(op, err)
	}
	return fmt.Errorf("containerd: %s: %w", op, errors.Join(ctx.Err(), err))
}

// ensureKeeper starts the keeper container of a first-step Env, once,
// before its first Exec.
func (v *Env) ensureKeeper(ctx context.Context) error {
	if v.steps == nil {
		return nil
	}
	v.keepMu.Lock()
	defer v.keepMu.Unlock()
	if v.task != nil {
		return nil
	}
	if err := v.usable(); err != nil {
		return err
	}
	kctx := leases.WithLease(v.ex.withNS(ctx), v.leaseID)
	if err := v.ex.startJob(kctx, v, v.steps); err != nil {
		v.markDead(fmt.Errorf("containerd: the job's step container did not start: %w", err))
		return err
	}
	return nil
}

// switchWriter is a task's output: it goes to the writer set last, one
// write at a time (stdout and stderr are copied concurrently).
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w = w
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}
