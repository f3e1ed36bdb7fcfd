package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/stepcmd"
)

var (
	_ executors.FirstStepCreator     = (*Executor)(nil)
	_ executors.LateFirstStepCreator = (*Executor)(nil)
	_ executors.FirstStepEnv         = (*Env)(nil)
	_ executors.LateFirstStepEnv     = (*Env)(nil)
	_ executors.FirstStepPrestarter  = (*Env)(nil)
)

// firstWrapper runs the step (its argv follows the end mark, $1) with
// stderr merged into stdout, then writes the end mark to stdout and the
// step's exit status, alone on a line, to the container's stderr.
//
// RunFirst returns as soon as both have arrived instead of waiting for
// the engine to tear the container down (~60 ms and more), which the
// job's final state would otherwise wait for. The engine copies stdout
// and stderr separately, so the status line alone does not prove that
// the step's output has all arrived; the end mark does, as it follows
// that output in the same pipe. It is a single short write, random per
// job and framed by ASCII record separators, so output never matches it
// by chance; a step that forges it or the status only cuts its own log
// short or claims an exit status that was its own to choose. Any status
// but 0, or a missing one, is taken from the engine instead.
//
// Processes the step leaves behind die with the container, whose init
// exits with the wrapper; what they write after the end mark is dropped.
//
// Before the step, the wrapper waits for a line on its stdin, the gate
// that RunFirst opens by writing it (Prestart). A stdin that ends without
// one (the Env closed, or the agent gone, before RunFirst) runs nothing.
// The step's stdin is /dev/null. The wrapper's variables carry the
// reserved prefix (stepcmd).
const firstWrapper = `__rf_m=$1; shift; read -r _ || exit 125; "$@" 2>&1 </dev/null; __rf_s=$?; printf %s "$__rf_m"; echo "runfleet-exit=$__rf_s" >&2; exit $__rf_s`

// lateWrapper is firstWrapper for a late first step: instead of waiting
// for the end of its stdin, it reads the step's program (stepcmd.Program)
// from stdin up to the end line "$2", chosen when the container was
// created, and evaluates it in a subshell; the program execs the step
// with stdin from /dev/null.
const lateWrapper = `__rf_m=$1; __rf_M=$2; ` + stepcmd.Reader + `; (eval "$__rf_p") 2>&1; __rf_s=$?; printf %s "$__rf_m"; echo "runfleet-exit=$__rf_s" >&2; exit $__rf_s`

// firstSuccess is what firstWrapper writes to stderr for exit status 0.
const firstSuccess = "runfleet-exit=0\n"

// keeperSuffix names the container that a first-step Env starts for the
// steps after the first one.
const keeperSuffix = "-steps"

// CreateFirstStep is Create with the job container created, not started,
// with first as its process (see executors.FirstStepCreator). The
// container gets the same configuration as Create's job container: only
// its entrypoint, command, user and environment differ.
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

// createFirst creates the first-step container and remembers how to make
// the keeper container for later steps.
func (e *Executor) createFirst(ctx context.Context, env *Env, j *jobContainer, first stepcmd.First) error {
	end, err := newEndMark()
	if err != nil {
		return fmt.Errorf("docker: job %s: %w", j.spec.JobID, err)
	}
	var cfg *container.Config
	var hc *container.HostConfig
	var nc *network.NetworkingConfig
	if first.Late {
		if env.firstLate, err = stepcmd.NewEndLine(); err != nil {
			return fmt.Errorf("docker: job %s: %w", j.spec.JobID, err)
		}
		cfg, hc, nc = j.config(e, []string{"/bin/sh", "-c", lateWrapper, "sh", string(end), env.firstLate}, nil)
		cfg.Env = append([]string{}, j.spec.Env...)
		cfg.User = j.spec.User
	} else {
		step := first.Step
		cfg, hc, nc = j.config(e, []string{"/bin/sh", "-c", firstWrapper, "sh", string(end)}, stepcmd.Argv(step))
		cfg.Env = append(append([]string{}, j.spec.Env...), step.Env...)
		cfg.User = step.User
		if cfg.User == "" {
			cfg.User = j.spec.User
		}
		if step.WorkDir != "" {
			cfg.WorkingDir = step.WorkDir
		}
	}
	cfg.AttachStdout, cfg.AttachStderr = true, true
	// The gate (firstWrapper): stdin stays open until RunFirst closes it.
	cfg.AttachStdin, cfg.OpenStdin, cfg.StdinOnce = true, true, true
	resp, err := e.api.ContainerCreate(e.uncut(ctx), cfg, hc, nc, nil, j.name)
	if err != nil {
		return engineErr("create job container", err)
	}
	env.firstID, env.firstEnd = resp.ID, end
	keeper := *j
	keeper.name += keeperSuffix
	env.steps = &keeper
	return nil
}

// RunFirst starts the first-step container and streams its output until
// the step ends: until its wrapper's end mark and exit status arrived, or
// else until the output ends and the engine reports the exit. Output of
// processes the step left behind that comes after the end mark is
// dropped. The step's processes are the container's, so on cancellation
// the container is killed: that stops them all.
func (v *Env) RunFirst(ctx context.Context, out io.Writer) (executors.Result, error) {
	pre, err := v.takeFirst(false)
	if err != nil {
		return executors.Result{}, err
	}
	return v.runFirst(ctx, pre, nil, out)
}

// RunFirstStep hands step to the waiting job container of a late first
// step and streams its output until the step ends, as RunFirst does (see
// executors.LateFirstStepEnv).
func (v *Env) RunFirstStep(ctx context.Context, step executors.Step, out io.Writer) (executors.Result, error) {
	prog, err := stepcmd.Program(step, v.workDir, v.user, v.firstLate)
	if err != nil {
		return executors.Result{}, fmt.Errorf("docker: job %s: %w", v.jobID, err)
	}
	pre, err := v.takeFirst(true)
	if err != nil {
		return executors.Result{}, err
	}
	return v.runFirst(ctx, pre, prog, out)
}

// Waiting returns nil while a late first step's container can still be
// given its step: created, or prestarted and running (see
// executors.LateFirstStepEnv).
func (v *Env) Waiting(ctx context.Context) error {
	if err := v.usable(); err != nil {
		return err
	}
	v.mu.Lock()
	waits := v.firstLate != "" && !v.firstUsed
	att := v.firstAtt
	v.mu.Unlock()
	pre := att != nil
	if !waits {
		return fmt.Errorf("docker: job %s: no late first step waits: %w", v.jobID, executors.ErrFirstStepUsed)
	}
	if pre {
		// The prestarted container's streams must still be there (an
		// engine restarted with live-restore keeps the container, not
		// them), and quiet: the wrapper writes nothing before its step.
		_ = att.Conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, perr := att.Reader.Peek(1)
		_ = att.Conn.SetReadDeadline(time.Time{})
		if !errors.Is(perr, os.ErrDeadlineExceeded) {
			return fmt.Errorf("docker: job %s: the waiting job container's streams ended or spoke (%v): %w", v.jobID, perr, executors.ErrEngine)
		}
	}
	ins, err := v.ex.api.ContainerInspect(ctx, v.firstID)
	if err != nil {
		return engineErr("inspect the waiting job container", err)
	}
	if st := ins.State; st == nil || (pre && !st.Running) || (!pre && st.Status != "created") {
		return fmt.Errorf("docker: job %s: the waiting job container is not waiting (%+v): %w", v.jobID, ins.State, executors.ErrEngine)
	}
	return nil
}

// takeFirst takes the first step, once, if the Env is usable and the
// step is late as asked: a prestarted step's streams, or nil.
func (v *Env) takeFirst(late bool) (*types.HijackedResponse, error) {
	if err := v.usable(); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.firstUsed || v.firstID == "" {
		return nil, fmt.Errorf("docker: job %s: %w", v.jobID, executors.ErrFirstStepUsed)
	}
	if late != (v.firstLate != "") {
		return nil, fmt.Errorf("docker: job %s: RunFirst and RunFirstStep mixed up: %w", v.jobID, executors.ErrFirstStepUsed)
	}
	v.firstUsed = true
	pre := v.firstAtt
	v.firstAtt = nil
	return pre, nil
}

// runFirst runs a first step taken from the Env (pre: its prestarted
// streams): given at creation (prog nil), or late, handed over as prog.
func (v *Env) runFirst(ctx context.Context, pre *types.HijackedResponse, prog []byte, out io.Writer) (executors.Result, error) {
	api := v.ex.api
	start := v.ex.now()
	defer v.watchFirst(ctx)() // enginestop.go
	att := pre
	if att == nil {
		a, err := v.attachFirst(ctx)
		if err != nil {
			return executors.Result{}, firstFailure(ctx, "attach first step", err)
		}
		att = &a
	}
	defer att.Close()
	copied := make(chan error, 1)
	stdout := newEndWriter(out, v.firstEnd)
	status := newStatusLine()
	go func() {
		_, err := stdcopy.StdCopy(stdout, status, att.Reader)
		copied <- err
	}()
	if pre == nil {
		err := api.ContainerStart(ctx, v.firstID, container.StartOptions{})
		v.refill.Run(ctx)
		if err == nil {
			go v.watchFirstInit(ctx)
		}
		if err != nil {
			att.Close()
			<-copied
			return executors.Result{}, firstFailure(ctx, "start job container", err)
		}
	}
	// Open the gate, or hand a late step over: the step runs.
	if prog == nil {
		prog = stepcmd.GateLine
	}
	stopWrite := context.AfterFunc(ctx, func() { _ = att.Conn.SetWriteDeadline(time.Unix(1, 0)) })
	_, err := att.Conn.Write(prog)
	stopWrite()
	if err != nil {
		res, _ := v.cancelFirst(ctx, start, copied, att.Close)
		return res, firstFailure(ctx, "open the first step's gate", err)
	}
	if err := att.CloseWrite(); err != nil {
		res, _ := v.cancelFirst(ctx, start, copied, att.Close)
		return res, firstFailure(ctx, "open the first step's gate", err)
	}
	// Wait for the end mark and the status line, or for the output to end
	// without them (the wrapper was killed, e.g. by the OOM killer).
	ended, stated := stdout.ended, status.done
	streamEnded := false
	for !streamEnded && (ended != nil || stated != nil) {
		select {
		case <-ended:
			ended = nil
		case <-stated:
			stated = nil
		case err = <-copied:
			streamEnded = true
		case <-ctx.Done():
			return v.cancelFirst(ctx, start, copied, att.Close)
		}
	}
	if streamEnded {
		if err != nil {
			return executors.Result{}, v.streamBroke(ctx, "first step output", err)
		}
		if err := stdout.flush(); err != nil {
			return executors.Result{}, firstFailure(ctx, "first step output", err)
		}
	} else {
		// Both arrived: the step's output is complete. Stop copying; what
		// is left can only be what orphaned processes write, dropped.
		stdout.stop()
		att.Close()
		<-copied
	}
	if stdout.sawEnd() && status.String() == firstSuccess {
		// The container finishes exiting on its own; Close removes it
		// either way (forced), so nothing waits for it here.
		return executors.Result{Duration: v.ex.now().Sub(start)}, nil
	}
	// The wrapper has ended, or its output has; the engine records the
	// exit a moment later, which "not-running" waits for.
	waitC, errC := api.ContainerWait(ctx, v.firstID, container.WaitConditionNotRunning)
	var code int64
	select {
	case w := <-waitC:
		if w.Error != nil {
			return executors.Result{}, v.streamBroke(ctx, "wait for first step", errors.New(w.Error.Message))
		}
		code = w.StatusCode
	case err := <-errC:
		if ctx.Err() != nil {
			return v.cancelFirst(ctx, start, nil, nil)
		}
		return executors.Result{}, v.streamBroke(ctx, "wait for first step", err)
	}
	res := executors.Result{ExitCode: int(code), Duration: v.ex.now().Sub(start)}
	if code != 0 {
		ins, err := api.ContainerInspect(context.WithoutCancel(ctx), v.firstID)
		if err != nil {
			return res, engineErr("inspect job container", err)
		}
		res.OOMKilled = ins.State != nil && ins.State.OOMKilled
		if !res.OOMKilled && !stdout.sawEnd() {
			if err := v.engineStopped(ctx, code); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// watchFirstInit finds the started first-step container's init in /proc
// (firstProcs), off the step's way. A step that ended first leaves it
// unknown: Stop then waits for the engine.
func (v *Env) watchFirstInit(ctx context.Context) {
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	ins, err := v.ex.api.ContainerInspect(ictx, v.firstID)
	if err != nil || ins.State == nil || !ins.State.Running {
		return
	}
	p := newContainerProcs(ins.State.Pid)
	if !p.Of(ins.ID) {
		return
	}
	v.mu.Lock()
	v.firstProcs = &p
	v.mu.Unlock()
}

// attachFirst attaches to the first-step container's stdin (the gate),
// stdout and stderr.
func (v *Env) attachFirst(ctx context.Context) (types.HijackedResponse, error) {
	return v.ex.api.ContainerAttach(ctx, v.firstID, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
}

// Prestart starts the first-step container with its step held at the gate
// (see executors.FirstStepPrestarter); RunFirst or RunFirstStep opens it.
func (v *Env) Prestart(ctx context.Context) error {
	if err := v.usable(); err != nil {
		return err
	}
	v.mu.Lock()
	refused := v.firstUsed || v.firstID == "" || v.firstAtt != nil || v.prestarting
	v.prestarting = true
	v.mu.Unlock()
	if refused {
		return fmt.Errorf("docker: job %s: prestart after RunFirst or a prestart: %w", v.jobID, executors.ErrFirstStepUsed)
	}
	att, err := v.attachFirst(ctx)
	if err != nil {
		return firstFailure(ctx, "attach first step", err)
	}
	err = v.ex.api.ContainerStart(ctx, v.firstID, container.StartOptions{})
	v.refill.Run(ctx)
	if err != nil {
		att.Close()
		return firstFailure(ctx, "start job container", err)
	}
	go v.watchFirstInit(ctx)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.firstUsed || v.closed { // RunFirst or Close came meanwhile: they own the container
		att.Close()
		return fmt.Errorf("docker: job %s: prestart overtaken: %w", v.jobID, executors.ErrFirstStepUsed)
	}
	v.firstAtt = &att
	return nil
}

// cancelFirst kills the first-step container of a cancelled RunFirst and
// waits (a bounded time) for its output to end.
func (v *Env) cancelFirst(ctx context.Context, start time.Time, copied <-chan error, closeOutput func()) (executors.Result, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.ex.cleanupTimeout)
	defer cancel()
	var kerr error
	if err := v.ex.api.ContainerKill(cctx, v.firstID, "KILL"); err != nil && !isNotFound(err) && !isNotRunning(err) {
		kerr = engineErr("kill job container", err)
	} else {
		v.ex.log.InfoContext(ctx, "killed the job container of a cancelled first step", "job", v.jobID)
	}
	if copied != nil {
		timer := time.NewTimer(drainAfterKill)
		select {
		case <-copied:
		case <-timer.C:
			closeOutput()
			<-copied
		}
		timer.Stop()
	}
	res := executors.Result{ExitCode: -1, Duration: v.ex.now().Sub(start)}
	return res, fmt.Errorf("docker: step cancelled: %w", errors.Join(ctx.Err(), kerr))
}

// firstFailure wraps an engine error of RunFirst: ctx's error when the
// caller gave up, otherwise ErrEngine.
func firstFailure(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("docker: %s: %w", op, errors.Join(ctx.Err(), err))
	}
	return engineErr(op, err)
}

// ensureKeeper starts the keeper container of a first-step Env, once,
// before its first Exec.
func (v *Env) ensureKeeper(ctx context.Context) error {
	if v.steps == nil {
		return nil
	}
	v.keepMu.Lock()
	defer v.keepMu.Unlock()
	if v.containerID != "" {
		return nil
	}
	if err := v.usable(); err != nil {
		return err
	}
	if err := v.ex.startJob(ctx, v, v.steps); err != nil {
		v.markDead(fmt.Errorf("docker: the job's step container did not start: %w", err))
		return err
	}
	return nil
}

// isNotRunning reports whether err is the engine refusing to signal a
// container that already stopped.
func isNotRunning(err error) bool { return cerrdefs.IsConflict(err) }
