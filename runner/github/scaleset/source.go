package scaleset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	actions "github.com/actions/scaleset"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/github"
)

// The Listener is the scale set's job source in the agent's one slot
// loop: a slot waits for demand (WaitDemand: desired runners above the
// ones this node has), then Acquire mints a JIT config, launches the
// runner and returns its job once GitHub hands it one. Busy counts,
// heartbeats, metrics, cordon, drain and the shutdown grace therefore
// hold for scale-set jobs as for every other.
var (
	_ runner.Source       = (*Listener)(nil)
	_ runner.Standby      = (*Listener)(nil)
	_ runner.DemandWaiter = (*Listener)(nil)

	_ runner.ConditionReporter = (*Listener)(nil)
)

// ReportConditions implements runner.ConditionReporter: the listener
// raises RunnerOutdated while GitHub refuses its runner image, as label
// mode does (runner/github.OutdatedGate).
func (l *Listener) ReportConditions(set func(condition string, on bool)) {
	l.outdated.ReportConditions(set)
}

// Outdated is GitHub's refusal of the runner image while it stands (nil
// when the image is accepted).
func (l *Listener) Outdated() *github.RunnerOutdatedError { return l.outdated.Outdated() }

// cleanupTimeout bounds registration removal after the caller's context
// ended.
const cleanupTimeout = 30 * time.Second

// resultWait is how long a job whose runner exited waits for the
// JobCompleted message that carries its result.
const resultWait = 5 * time.Second

// Name implements runner.Source: the scale set's name.
func (l *Listener) Name() string { return l.cfg.Name }

// Limit implements runner.Source: the runners this node runs at once.
func (l *Listener) Limit() int { return l.cfg.Slots }

// Standby implements runner.Standby: an idle runner is withdrawn by
// removing its registration, which GitHub refuses once it took a job.
func (l *Listener) Standby() bool { return true }

// wantLocked reports whether the scale set wants another runner here.
func (l *Listener) wantLocked() bool {
	return l.launcher != nil && l.scaleSetID != 0 && l.haveLocked() < l.desired
}

// WaitDemand implements runner.DemandWaiter: it returns once the scale
// set wants more runners than this node has.
func (l *Listener) WaitDemand(ctx context.Context) error {
	for {
		l.mu.Lock()
		want, ch := l.wantLocked(), l.changed
		l.mu.Unlock()
		if want {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Acquire implements runner.Source: it mints a JIT config, launches the
// runner and waits until GitHub hands it a job (JobStarted), returning
// that job. It answers runner.ErrNoJob when there is no demand (any more),
// and withdraws the idle runner when the demand drops below the runners
// this node has or ctx ends — unless GitHub refuses because the runner
// just took a job, which is then returned and runs to its end.
func (l *Listener) Acquire(ctx context.Context, slot runner.Slot) (_ runner.Job, err error) {
	// No minting while GitHub refuses the runner image; a runner GitHub
	// refuses stops it (runner/github.OutdatedGate).
	adm, err := l.outdated.Admit(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { adm.Done(err) }()
	l.mu.Lock()
	if !l.wantLocked() {
		l.mu.Unlock()
		return nil, runner.ErrNoJob
	}
	l.launching++
	id := l.scaleSetID
	l.notifyLocked()
	l.mu.Unlock()
	unreserve := func() {
		l.mu.Lock()
		l.launching--
		l.notifyLocked()
		l.mu.Unlock()
	}
	name := runnerName(l.cfg.Owner)
	if l.budget != nil {
		if err := l.budget.Wait(ctx); err != nil {
			unreserve()
			return nil, fmt.Errorf("JIT minting budget: %w", err)
		}
	}
	jit, err := l.api.GenerateJitRunnerConfig(ctx, &actions.RunnerScaleSetJitRunnerSetting{Name: name, WorkFolder: l.cfg.WorkFolder}, id)
	if err != nil {
		unreserve()
		if ctx.Err() != nil {
			// Cancelled mid-request: the scale set may have registered it.
			l.removeNamed(ctx, name)
		}
		return nil, fmt.Errorf("generate JIT config for %s: %w", name, err)
	}
	if jit == nil || jit.Runner == nil || jit.EncodedJITConfig == "" {
		unreserve()
		return nil, fmt.Errorf("generate JIT config for %s: empty answer", name)
	}
	r := &runnerState{Runner: Runner{Name: name, ID: int64(jit.Runner.ID), EncodedJITConfig: jit.EncodedJITConfig, Slot: slot.Index},
		done: make(chan struct{})}
	// The runner outlives Acquire: its job's Run or its withdrawal stops it.
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stop = stop
	l.mu.Lock()
	l.launching--
	l.runners[name] = r
	l.notifyLocked()
	l.mu.Unlock()
	l.records().Record(l.log, name, r.ID) // journal.go
	l.metrics.launched.Inc()
	l.log.Info("launching runner", "runner", name, "runner_id", r.ID, "slot", slot.Index)
	go func() {
		r.err = l.launcher.Run(rctx, r.Runner)
		close(r.done)
	}()
	return l.await(ctx, r)
}

// await waits until r takes a job, exits, is no longer wanted or ctx ends.
func (l *Listener) await(ctx context.Context, r *runnerState) (runner.Job, error) {
	for {
		l.mu.Lock()
		took := r.busy || r.completed
		surplus := !took && l.haveLocked() > l.desired
		if surplus {
			r.removed = true // stops counting at once: one retirement per surplus runner
		}
		ch := l.changed
		l.mu.Unlock()
		switch {
		case took:
			return &job{l: l, r: r}, nil
		case surplus:
			if l.withdraw(ctx, r, "scale down") {
				return nil, runner.ErrNoJob
			}
			return &job{l: l, r: r}, nil
		}
		select {
		case <-ch:
		case <-r.done:
			l.mu.Lock()
			took := r.busy || r.completed
			l.mu.Unlock()
			if took {
				return &job{l: l, r: r}, nil // a short job, done before its message came
			}
			// No JobStarted: GitHub's registration is authoritative.
			if !l.withdraw(ctx, r, "runner exited") {
				return &job{l: l, r: r}, nil
			}
			return nil, fmt.Errorf("scale set %s: runner %s exited before taking a job: %w", l.cfg.Name, r.Name, errors.Join(r.err, errExitedIdle))
		case <-ctx.Done():
			l.mu.Lock()
			r.removed = true
			l.mu.Unlock()
			if l.withdraw(ctx, r, "slot stopped") {
				return nil, ctx.Err()
			}
			l.log.Info("runner took a job while being withdrawn: letting it run", "runner", r.Name)
			return &job{l: l, r: r}, nil
		}
	}
}

var errExitedIdle = errors.New("runner exited idle")

// withdraw removes an idle runner's registration and stops its container.
// It reports false when the runner took a job after all (GitHub refused
// the removal as busy, or the registration of an exited runner is gone:
// JIT runners unregister after their job); r then counts as busy.
func (l *Listener) withdraw(ctx context.Context, r *runnerState, why string) bool {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	exited := false
	select {
	case <-r.done:
		exited = true
	default:
	}
	err := l.api.RemoveRunner(cctx, r.ID)
	took := false
	switch {
	case err == nil:
		l.metrics.deregistered.Inc()
		l.records().Forget(l.log, r.ID)
	case errors.Is(err, actions.JobStillRunningError):
		took = true
	case registrationGone(err):
		l.records().Forget(l.log, r.ID)
		took = exited // gone after exiting: it ran a job; gone while running: the scale set went
	default:
		l.log.Warn("removing a runner registration", "runner", r.Name, "why", why, "err", err)
	}
	if took {
		l.mu.Lock()
		r.busy, r.removed = true, false
		l.notifyLocked()
		l.mu.Unlock()
		return false
	}
	r.stop()
	<-r.done
	l.mu.Lock()
	delete(l.runners, r.Name)
	l.notifyLocked()
	l.mu.Unlock()
	l.log.Info("idle runner withdrawn", "runner", r.Name, "why", why)
	return true
}

// removeNamed removes the registration named name, if the scale set has
// one.
func (l *Listener) removeNamed(ctx context.Context, name string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	ref, err := l.api.GetRunnerByName(cctx, name)
	if err != nil || ref == nil {
		if err != nil {
			l.log.Warn("looking for the registration of a runner whose JIT config was cancelled", "runner", name, "err", err)
		}
		return
	}
	if err := l.api.RemoveRunner(cctx, int64(ref.ID)); err != nil && !errors.Is(err, actions.RunnerNotFoundError) {
		l.log.Warn("removing the registration of a runner whose JIT config was cancelled", "runner", name, "err", err)
	}
}

// job is a scale-set runner that took a job.
type job struct {
	l *Listener
	r *runnerState
}

// ID implements runner.Job: the runner's name.
func (j *job) ID() string { return j.r.Name }

// Run implements runner.Job: it waits for the runner to finish its job
// and reports the result GitHub sent (JobCompleted). Cancelling ctx
// (shutdown timeout) stops the runner: GitHub then fails the job.
func (j *job) Run(ctx context.Context) runner.Outcome {
	l, r := j.l, j.r
	defer r.stop()
	aborted := false
	select {
	case <-r.done:
	case <-ctx.Done():
		aborted = true
		r.stop()
		<-r.done
	}
	if !aborted {
		l.waitResult(ctx, r)
	}
	// The service removes a JIT runner's registration after its job;
	// one it still holds (a runner stopped mid-job) is removed here, or
	// at the next start from the journal.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	if err := l.unregister(cctx, r.ID); err != nil {
		l.log.Info("the runner's registration stays for now; the next start removes it", "runner", r.Name, "err", err)
	}
	cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	r.exited = true
	if r.completed || r.removed {
		delete(l.runners, r.Name)
	}
	l.notifyLocked()
	out := runner.Outcome{Queued: r.queued}
	switch {
	case aborted:
		out.State, out.FailureReason = runner.StateCanceled, runner.FailureRunnerSystem
	case r.result != "":
		out = resultOutcome(r.result)
		out.Queued = r.queued
	case r.err == nil:
		out.State = runner.StateSuccess // the runner exited cleanly; the result message never came
	default:
		out.State, out.FailureReason = runner.StateFailed, runner.FailureRunnerSystem
	}
	return out
}

// resultOutcome maps a JobCompleted result (the scale-set service's
// TaskResult names) to an agent outcome.
func resultOutcome(result string) runner.Outcome {
	switch strings.ToLower(result) {
	case "succeeded", "succeededwithissues", "skipped":
		return runner.Outcome{State: runner.StateSuccess}
	case "canceled", "cancelled", "abandoned":
		return runner.Outcome{State: runner.StateCanceled}
	case "failed":
		return runner.Outcome{State: runner.StateFailed, FailureReason: runner.FailureScript}
	}
	return runner.Outcome{State: runner.StateFailed, FailureReason: runner.FailureUnknown}
}

// waitResult waits a little for r's JobCompleted after its container
// exited.
func (l *Listener) waitResult(ctx context.Context, r *runnerState) {
	t := l.clock.NewTimer(resultWait)
	defer t.Stop()
	for {
		l.mu.Lock()
		done, ch := r.completed, l.changed
		l.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-t.C():
			return
		case <-ctx.Done():
			return
		}
	}
}
