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
	"github.com/runfleet/runfleet/executors/internal/stepcmd"
)

var (
	_ executors.FirstStepCreator     = (*Executor)(nil)
	_ executors.LateFirstStepCreator = (*Executor)(nil)
	_ executors.FirstStepEnv         = (*Env)(nil)
	_ executors.LateFirstStepEnv     = (*Env)(nil)
	_ executors.FirstStepPrestarter  = (*Env)(nil)
)

// gateWrapper runs a first step ("$@") once a line arrives on its stdin:
// the gate RunFirst opens by writing it (Prestart). A stdin that ends
// without one (the Env closed, or the agent gone, before RunFirst) runs
// nothing. The step's stdin is /dev/null.
const gateWrapper = `read -r _ || exit 125; exec "$@" </dev/null`

// lateWrapper waits for a late first step: it reads the step's program
// (stepcmd.Program) from stdin up to the end line "$1", chosen when the
// container was created, and evaluates it; the program execs the step
// with stdin from /dev/null.
const lateWrapper = `__rf_M=$1; ` + stepcmd.Reader + `; eval "$__rf_p"`

// keeperSuffix names the container that a first-step Env starts for the
// steps after the first one.
const keeperSuffix = "steps"

// firstStep is the job container created with the first step as its
// process, its task created and not started.
type firstStep struct {
	task  ctrd.Task
	out   *switchWriter // the task's stdout and stderr, to RunFirst's writer
	gate  *io.PipeWriter
	procs proctree.Procs
	// end is a late first step's end line (lateWrapper); empty when the
	// step was given at creation.
	end string

	// Set by begin: the task's exit, watched until stopWait.
	statusC  <-chan ctrd.ExitStatus
	stopWait context.CancelFunc

	used, prestarting bool // under Env.mu
}

// begin starts the task, watching for its exit first.
func (f *firstStep) begin(ctx context.Context) error {
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	statusC, err := f.task.Wait(wctx)
	if err != nil {
		stop()
		return fmt.Errorf("wait for first step: %w", err)
	}
	if err := f.task.Start(ctx); err != nil {
		stop()
		return fmt.Errorf("start first step: %w", err)
	}
	f.statusC, f.stopWait = statusC, stop
	return nil
}

// CreateFirstStep is Create with the job container's task created, not
// started, with first as its process (see executors.FirstStepCreator).
// The container gets the same configuration as Create's job container:
// only its process (argv, environment, directory, user) differs. Its
// POSIX shell merges stderr into stdout, as Exec does.
func (e *Executor) CreateFirstStep(ctx context.Context, spec executors.Spec, first executors.Step) (executors.FirstStepEnv, error) {
	env, err := e.newEnv(ctx, spec, &stepcmd.First{Step: first})
	if err != nil {
		return nil, err
	}
	return env, nil
}

// CreateLateFirstStep is CreateFirstStep with the step given later, to
// RunFirstStep (see executors.LateFirstStepCreator): the container's
// process waits for it (lateWrapper) with the spec's environment,
// directory and user.
func (e *Executor) CreateLateFirstStep(ctx context.Context, spec executors.Spec) (executors.LateFirstStepEnv, error) {
	env, err := e.newEnv(ctx, spec, &stepcmd.First{Late: true})
	if err != nil {
		return nil, err
	}
	return env, nil
}

// createFirst creates the first step's container and task and remembers
// how to make the keeper container for later steps.
func (e *Executor) createFirst(ctx context.Context, env *Env, j *jobContainer, spec executors.Spec, first stepcmd.First) error {
	cfg := j.cfg
	var end string
	if first.Late {
		var err error
		if end, err = stepcmd.NewEndLine(); err != nil {
			return fmt.Errorf("containerd: job %s: %w", spec.JobID, err)
		}
		cfg.args = []string{"/bin/sh", "-c", lateWrapper, "sh", end}
		cfg.user = spec.User
	} else {
		step := first.Step
		cfg.args = append([]string{"/bin/sh", "-c", gateWrapper, "sh"}, stepcmd.Argv(step)...)
		cfg.env = mergeEnv(spec.Env, step.Env)
		cfg.cwd = firstNonEmpty(step.WorkDir, spec.WorkDir)
		cfg.user = firstNonEmpty(step.User, spec.User)
	}
	out := &switchWriter{w: io.Discard}
	gateR, gate := io.Pipe()
	c, task, err := e.newTask(ctx, env, j.id, j.image, j.labels, cfg, j.runtime, cio.NewCreator(cio.WithStreams(gateR, out, out)))
	if err != nil {
		gate.Close()
		return err
	}
	env.first = &firstStep{task: task, out: out, gate: gate, procs: proctree.New(int(task.Pid())), end: end}
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
	f, ferr := v.takeFirst(false)
	if ferr != nil {
		return executors.Result{}, ferr
	}
	return v.runFirst(ctx, f, nil, out)
}

// RunFirstStep hands step to the waiting job container of a late first
// step and streams its output until it exits, as RunFirst does (see
// executors.LateFirstStepEnv).
func (v *Env) RunFirstStep(ctx context.Context, step executors.Step, out io.Writer) (executors.Result, error) {
	v.mu.Lock()
	end := ""
	if v.first != nil {
		end = v.first.end
	}
	v.mu.Unlock()
	prog, err := stepcmd.Program(step, v.workDir, v.user, end)
	if err != nil {
		return executors.Result{}, fmt.Errorf("containerd: job %s: %w", v.jobID, err)
	}
	f, err := v.takeFirst(true)
	if err != nil {
		return executors.Result{}, err
	}
	return v.runFirst(ctx, f, prog, out)
}

// Waiting returns nil while a late first step's container can still be
// given its step: created, or started and waiting (see
// executors.LateFirstStepEnv).
func (v *Env) Waiting(ctx context.Context) error {
	if err := v.usable(); err != nil {
		return err
	}
	v.mu.Lock()
	f := v.first
	waits := f != nil && f.end != "" && !f.used
	v.mu.Unlock()
	if !waits {
		return fmt.Errorf("containerd: job %s: no late first step waits: %w", v.jobID, executors.ErrFirstStepUsed)
	}
	// A prestarted task's exit is watched over the engine connection
	// that started it: an exit, or that watch broken by an engine
	// restart, arrives there, and the step could no longer be followed.
	v.keepMu.Lock()
	var ended error
	if f.statusC != nil {
		select {
		case st := <-f.statusC:
			ended = fmt.Errorf("containerd: job %s: the waiting job container's watch ended (%v): %w", v.jobID, st.Error(), executors.ErrEngine)
			v.mu.Lock()
			f.used = true // its exit is consumed: nothing can run it now
			v.mu.Unlock()
		default:
		}
	}
	v.keepMu.Unlock()
	if ended != nil {
		return ended
	}
	st, err := f.task.Status(v.ex.withNS(ctx))
	if err != nil {
		return engineErr("status of the waiting job container", err)
	}
	if st.Status != ctrd.Created && st.Status != ctrd.Running {
		return fmt.Errorf("containerd: job %s: the waiting job container is %s: %w", v.jobID, st.Status, executors.ErrEngine)
	}
	return nil
}

// runFirst runs a first step taken from the Env: given at creation
// (prog nil), or late, handed over as prog.
func (v *Env) runFirst(ctx context.Context, f *firstStep, prog []byte, out io.Writer) (executors.Result, error) {
	start := v.ex.now()
	// Engine calls outlive ctx: a cancelled step is still killed and
	// waited for.
	bg, cancelBG := context.WithTimeout(v.ex.withNS(context.WithoutCancel(ctx)), 24*time.Hour)
	defer cancelBG()
	f.out.set(out)
	defer f.out.set(io.Discard)
	oomBefore := f.procs.OOMKills()
	v.keepMu.Lock()
	var err error
	if f.statusC == nil { // not prestarted
		err = f.begin(bg)
		v.refill.Run(ctx)
	}
	v.keepMu.Unlock()
	if err != nil {
		return executors.Result{}, firstFailure(ctx, "first step", err)
	}
	defer f.stopWait()
	statusC := f.statusC
	if prog == nil {
		prog = stepcmd.GateLine
	}
	// The waiting shell reads its line (or its program, up to the end
	// line); the step's stdin is /dev/null, so stdin needs no closing. A
	// container that died reads nothing: the write ends when release
	// closes the gate.
	go func() { _, _ = f.gate.Write(prog) }()
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

// Prestart starts the first step's task with the step held at the gate
// (see executors.FirstStepPrestarter); RunFirst or RunFirstStep opens it.
func (v *Env) Prestart(ctx context.Context) error {
	if err := v.usable(); err != nil {
		return err
	}
	v.mu.Lock()
	f := v.first
	refused := f == nil || f.used || f.prestarting
	if !refused {
		f.prestarting = true
	}
	v.mu.Unlock()
	if refused {
		return fmt.Errorf("containerd: job %s: prestart after RunFirst or a prestart: %w", v.jobID, executors.ErrFirstStepUsed)
	}
	// RunFirst waits for this: it reads statusC once begin is done.
	v.keepMu.Lock()
	defer v.keepMu.Unlock()
	err := f.begin(v.ex.withNS(ctx))
	v.refill.Run(ctx)
	if err != nil {
		return firstFailure(ctx, "prestart", err)
	}
	return nil
}

// release ends what a first step holds open: the gate's pipe and
// the watch for its exit. Close calls it under keepMu.
func (f *firstStep) release() {
	f.gate.Close()
	if f.stopWait != nil {
		f.stopWait()
	}
}

// takeFirst returns the first step, once, if the Env is usable and the
// step is late as asked.
func (v *Env) takeFirst(late bool) (*firstStep, error) {
	if err := v.usable(); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.first == nil || v.first.used {
		return nil, fmt.Errorf("containerd: job %s: %w", v.jobID, executors.ErrFirstStepUsed)
	}
	if late != (v.first.end != "") {
		return nil, fmt.Errorf("containerd: job %s: RunFirst and RunFirstStep mixed up: %w", v.jobID, executors.ErrFirstStepUsed)
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
