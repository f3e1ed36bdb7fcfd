package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/stepcmd"
)

// drainAfterKill bounds how long Exec waits for the output of a killed
// step to end before it drops the stream.
const drainAfterKill = 2 * time.Second

// Exec runs step in the job container with docker exec and streams its
// output to out. For POSIX shells, stderr is merged into stdout inside the
// container (the script starts with "exec 2>&1"): the engine copies the two
// pipes concurrently and would otherwise reorder lines written close
// together. On cancellation the step's processes are killed and the Env
// stays usable; if they cannot be found the whole container is killed and
// the returned error says so.
func (v *Env) Exec(ctx context.Context, step executors.Step, out io.Writer) (executors.Result, error) {
	if err := v.usable(); err != nil {
		return executors.Result{}, err
	}
	if err := v.ensureKeeper(ctx); err != nil {
		return executors.Result{}, err
	}
	api := v.ex.api
	start := v.ex.now()
	oomBefore := v.procs.OOMKills()
	user := step.User
	if user == "" {
		user = v.user
	}
	wd := step.WorkDir
	if wd == "" {
		wd = v.workDir
	}
	created, err := api.ContainerExecCreate(ctx, v.containerID, container.ExecOptions{
		User:         user,
		AttachStdout: true,
		AttachStderr: true,
		Env:          append(append([]string{}, v.env...), step.Env...),
		WorkingDir:   wd,
		Cmd:          stepcmd.Argv(step),
	})
	if err != nil {
		return executors.Result{}, v.failure(ctx, "exec create", err)
	}
	resp, err := api.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return executors.Result{}, v.failure(ctx, "exec attach", err)
	}
	defer resp.Close()
	copied := make(chan error, 1)
	streamEnded := make(chan struct{})
	go func() {
		_, err := stdcopy.StdCopy(out, out, resp.Reader)
		copied <- err
		close(streamEnded)
	}()
	select {
	case err = <-copied:
	case <-ctx.Done():
		kerr := v.cancelStep(ctx, created.ID, streamEnded)
		timer := time.NewTimer(drainAfterKill)
		select {
		case <-copied:
		case <-timer.C:
			resp.Close()
			<-copied
		}
		timer.Stop()
		res := executors.Result{ExitCode: -1, Duration: v.ex.now().Sub(start)}
		return res, fmt.Errorf("docker: step cancelled: %w", errors.Join(ctx.Err(), kerr))
	}
	if err != nil {
		return executors.Result{}, v.failure(ctx, "exec output", err)
	}
	ins, err := v.waitExit(ctx, created.ID)
	if err != nil {
		return executors.Result{}, v.failure(ctx, "exec inspect", err)
	}
	res := executors.Result{ExitCode: ins.ExitCode, Duration: v.ex.now().Sub(start)}
	if res.ExitCode == 0 {
		return res, nil
	}
	if oomBefore >= 0 {
		res.OOMKilled = v.procs.OOMKills() > oomBefore
	}
	cins, err := api.ContainerInspect(context.WithoutCancel(ctx), v.containerID)
	if err != nil {
		return res, v.failure(ctx, "inspect job container", err)
	}
	if cins.State != nil && oomBefore < 0 && cins.State.OOMKilled {
		res.OOMKilled = true
	}
	if cins.State == nil || !cins.State.Running {
		return res, v.containerGone(cins)
	}
	return res, nil
}

// waitExit polls the exec until the engine reports it finished: the output
// stream can end a moment before the exit code is recorded.
func (v *Env) waitExit(ctx context.Context, execID string) (container.ExecInspect, error) {
	for i := 0; ; i++ {
		ins, err := v.ex.api.ContainerExecInspect(ctx, execID)
		if err != nil || !ins.Running {
			return ins, err
		}
		if i == 500 {
			return ins, fmt.Errorf("exec %.12s still running after its output ended", execID)
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ins, ctx.Err()
		case <-t.C:
		}
	}
}

// cancelStep kills the cancelled step's processes, or the whole container
// when they cannot be found; in that case the Env is marked dead and the
// returned error says so.
func (v *Env) cancelStep(ctx context.Context, execID string, streamEnded <-chan struct{}) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.ex.cleanupTimeout)
	defer cancel()
	pid, err := v.execRoot(cctx, execID, streamEnded)
	if err == nil {
		var n int
		n, err = v.procs.KillStep(pid)
		if err == nil {
			v.ex.log.InfoContext(ctx, "killed cancelled step", "job", v.jobID, "pid", pid, "processes", n)
			return nil
		}
	}
	v.ex.log.WarnContext(ctx, "cannot kill the step's processes; killing the job container",
		"job", v.jobID, "err", err)
	dead := fmt.Errorf("docker: job container was killed to stop a cancelled step (%v): %w", err, executors.ErrEngine)
	v.markDead(dead)
	if kerr := v.ex.api.ContainerKill(cctx, v.containerID, "KILL"); kerr != nil && !isNotFound(kerr) {
		return errors.Join(dead, engineErr("kill job container", kerr))
	}
	return dead
}

// pidWait bounds how long cancelStep waits for the engine to record the
// PID of an exec it already started.
const pidWait = 2 * time.Second

// execRoot returns the host PID of the exec's process, or 0 when the exec
// already ended (what it left running was orphaned to the container's
// init, where KillStep finds it). The engine starts the process before it
// records its PID: Docker streams the step's output while ExecInspect
// still reports Pid 0, and under load for long enough that a step
// cancelled as soon as it printed would have its process tree left
// running. It also answers the attach before it marks the exec running:
// not running with no PID is "ended" only once its output stream has
// ended too. So the exec is asked again until its PID is known, or it
// has ended.
func (v *Env) execRoot(ctx context.Context, execID string, streamEnded <-chan struct{}) (int, error) {
	deadline := time.NewTimer(pidWait)
	defer deadline.Stop()
	for {
		ins, err := v.ex.api.ContainerExecInspect(ctx, execID)
		if err != nil {
			return 0, err
		}
		if ins.Pid > 0 {
			return ins.Pid, nil
		}
		if !ins.Running {
			select {
			case <-streamEnded:
				return 0, nil
			default: // not started yet, or its output still draining
			}
		}
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-deadline.C:
			t.Stop()
			return 0, fmt.Errorf("exec %.12s has no PID recorded, and has not ended, after %s", execID, pidWait)
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

// failure turns an engine error during Exec into the error to return:
// ctx's error when the caller gave up, otherwise ErrEngine, noting when
// the job container itself is gone.
func (v *Env) failure(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("docker: %s: %w", op, errors.Join(ctx.Err(), err))
	}
	cins, ierr := v.ex.api.ContainerInspect(context.WithoutCancel(ctx), v.containerID)
	if ierr == nil && (cins.State == nil || !cins.State.Running) {
		return errors.Join(v.containerGone(cins), err)
	}
	return engineErr(op, err)
}

// containerGone records and returns that the job container stopped.
func (v *Env) containerGone(cins container.InspectResponse) error {
	var err error
	if cins.State == nil {
		err = fmt.Errorf("docker: job container is not running: %w", executors.ErrEngine)
	} else {
		err = fmt.Errorf("docker: job container is not running (status %s, exit code %d, OOM killed %t): %w",
			cins.State.Status, cins.State.ExitCode, cins.State.OOMKilled, executors.ErrEngine)
	}
	v.markDead(err)
	return err
}
