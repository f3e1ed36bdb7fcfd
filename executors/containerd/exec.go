package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	cerrdefs "github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/stepcmd"
)

// drainAfterExit bounds how long Exec waits for a finished step's output
// to end: background processes the step left may hold the pipe open.
const drainAfterExit = time.Second

// drainAfterKill bounds how long Exec waits for a killed step to exit.
const drainAfterKill = 2 * time.Second

// Exec runs step as a new process in the job's task and streams its
// output to out. For POSIX shells, stderr is merged into stdout inside the
// container (the script starts with "exec 2>&1"): the two pipes are
// copied concurrently and would otherwise reorder lines written close
// together. On cancellation the step's processes are killed and the Env
// stays usable; if they cannot be found the whole task is killed and the
// returned error says so.
func (v *Env) Exec(ctx context.Context, step executors.Step, out io.Writer) (executors.Result, error) {
	if err := v.usable(); err != nil {
		return executors.Result{}, err
	}
	if err := v.ensureKeeper(ctx); err != nil { // firststep.go
		return executors.Result{}, err
	}
	start := v.ex.now()
	// Engine calls outlive ctx: a cancelled step is still killed, waited
	// for and deleted.
	bg, cancelBG := context.WithTimeout(v.ex.withNS(context.WithoutCancel(ctx)), 24*time.Hour)
	defer cancelBG()
	oomBefore := v.procs.OOMKills()
	pspec, err := v.processSpec(bg, step)
	if err != nil {
		return executors.Result{}, v.failure(ctx, bg, "exec spec", err)
	}
	w := &lockedWriter{w: out}
	proc, err := v.task.Exec(bg, v.nextExecID(), pspec, cio.NewCreator(cio.WithStreams(nil, w, w)))
	if err != nil {
		return executors.Result{}, v.failure(ctx, bg, "exec create", err)
	}
	defer v.deleteProcess(bg, proc)
	statusC, err := proc.Wait(bg)
	if err != nil {
		return executors.Result{}, v.failure(ctx, bg, "exec wait", err)
	}
	if err := proc.Start(bg); err != nil {
		return executors.Result{}, v.failure(ctx, bg, "exec start", err)
	}
	var status ctrd.ExitStatus
	select {
	case status = <-statusC:
	case <-ctx.Done():
		kerr := v.cancelStep(ctx, bg, proc)
		awaitExit(statusC, drainAfterKill)
		res := executors.Result{ExitCode: -1, Duration: v.ex.now().Sub(start)}
		return res, fmt.Errorf("containerd: step cancelled: %w", errors.Join(ctx.Err(), kerr))
	}
	drainIO(proc.IO())
	if err := status.Error(); err != nil {
		return executors.Result{}, v.failure(ctx, bg, "exec status", err)
	}
	res := executors.Result{ExitCode: int(status.ExitCode()), Duration: v.ex.now().Sub(start)}
	if res.ExitCode == 0 {
		return res, nil
	}
	if oomBefore >= 0 {
		res.OOMKilled = v.procs.OOMKills() > oomBefore
	}
	if err := v.checkRunning(bg); err != nil {
		return res, err
	}
	return res, nil
}

// awaitExit waits for a killed process's exit status, at most limit.
func awaitExit(statusC <-chan ctrd.ExitStatus, limit time.Duration) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-statusC:
	case <-timer.C:
	}
}

// drainIO waits for the process's output to be copied, or drainAfterExit,
// then closes its pipes.
func drainIO(pio cio.IO) {
	done := make(chan struct{})
	go func() {
		pio.Wait()
		close(done)
	}()
	t := time.NewTimer(drainAfterExit)
	select {
	case <-done:
	case <-t.C:
		pio.Cancel()
		_ = pio.Close()
		<-done
	}
	t.Stop()
}

// deleteProcess removes a finished (or killed) exec process and its pipes.
func (v *Env) deleteProcess(ctx context.Context, p ctrd.Process) {
	dctx, cancel := context.WithTimeout(ctx, v.ex.cleanupTimeout)
	defer cancel()
	if _, err := p.Delete(dctx, ctrd.WithProcessKill); err != nil && !cerrdefs.IsNotFound(err) {
		v.ex.log.WarnContext(ctx, "delete exec process", "job", v.jobID, "exec", p.ID(), "err", err)
	}
}

// processSpec returns the OCI process of a step: the job container's
// process with the step's argv, environment, directory and user.
func (v *Env) processSpec(ctx context.Context, step executors.Step) (*specs.Process, error) {
	s, err := v.container.Spec(ctx)
	if err != nil {
		return nil, err
	}
	p := *s.Process
	p.Terminal = false
	p.ConsoleSize = nil
	p.Args = stepcmd.Argv(step)
	p.Env = mergeEnv(s.Process.Env, step.Env)
	if wd := firstNonEmpty(step.WorkDir, v.workDir); wd != "" {
		p.Cwd = wd
	}
	user := firstNonEmpty(step.User, v.user)
	if user == "" {
		return &p, nil
	}
	info, err := v.container.Info(ctx)
	if err != nil {
		return nil, err
	}
	us := *s
	us.Process = &p
	if err := oci.WithUser(user)(ctx, v.ex.client, &info, &us); err != nil {
		return nil, fmt.Errorf("user %q: %w", user, err)
	}
	return us.Process, nil
}

// mergeEnv returns base with overrides applied: same keys replaced in
// place, new ones appended.
func mergeEnv(base, overrides []string) []string {
	out := append([]string{}, base...)
	idx := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	for _, kv := range overrides {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// cancelStep kills the cancelled step's processes, or the whole task
// when they cannot be found; in that case the Env is marked dead and the
// returned error says so.
func (v *Env) cancelStep(ctx, bg context.Context, p ctrd.Process) error {
	n, err := v.procs.KillStep(int(p.Pid()))
	if err == nil {
		v.ex.log.InfoContext(ctx, "killed cancelled step", "job", v.jobID, "pid", p.Pid(), "processes", n)
		return nil
	}
	v.ex.log.WarnContext(ctx, "cannot kill the step's processes; killing the job task", "job", v.jobID, "err", err)
	dead := fmt.Errorf("containerd: job task was killed to stop a cancelled step (%v): %w", err, executors.ErrEngine)
	v.markDead(dead)
	kctx, cancel := context.WithTimeout(bg, v.ex.cleanupTimeout)
	defer cancel()
	if kerr := v.task.Kill(kctx, syscall.SIGKILL, ctrd.WithKillAll); kerr != nil && !cerrdefs.IsNotFound(kerr) {
		return errors.Join(dead, engineErr("kill job task", kerr))
	}
	return dead
}

// checkRunning returns (and records) an error when the job's task is no
// longer running.
func (v *Env) checkRunning(ctx context.Context) error {
	st, err := v.task.Status(ctx)
	if err != nil {
		return engineErr("task status", err)
	}
	if st.Status == ctrd.Running {
		return nil
	}
	dead := fmt.Errorf("containerd: job task is not running (status %s, exit code %d): %w",
		st.Status, st.ExitStatus, executors.ErrEngine)
	v.markDead(dead)
	return dead
}

// failure turns an engine error during Exec into the error to return:
// ctx's error when the caller gave up, otherwise ErrEngine, noting when
// the job's task itself is gone.
func (v *Env) failure(ctx, bg context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("containerd: %s: %w", op, errors.Join(ctx.Err(), err))
	}
	if derr := v.checkRunning(bg); derr != nil {
		return errors.Join(derr, err)
	}
	return engineErr(op, err)
}

// lockedWriter serialises the stdout and stderr copiers' writes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
