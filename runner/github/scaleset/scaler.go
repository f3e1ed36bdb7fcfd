package scaleset

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	actions "github.com/actions/scaleset"
	"github.com/actions/scaleset/listener"
)

// Launcher runs one official runner from an encoded JIT config, in a
// container of the executor in use, and returns when the runner exits
// (after its one job, on failure, or when ctx ends, in which case it stops
// the container). The label-mode launcher of runner/github fits through a
// small adapter in cmd/runner.
type Launcher interface {
	Run(ctx context.Context, r Runner) error
}

// Runner is one JIT runner to launch.
type Runner struct {
	// Name of the registration (carries the node name).
	Name string
	// ID of the registration on GitHub.
	ID int64
	// EncodedJITConfig goes into ACTIONS_RUNNER_INPUT_JITCONFIG.
	EncodedJITConfig string
	// Slot is this node's slot index the runner occupies.
	Slot int
}

// runnerState is a launched runner. It counts toward the runners this
// node has until it can no longer take or run a job: its job completed
// (JobCompleted), or it was retired, or its container exited before it
// took a job. An entry whose container exited while its JobCompleted is
// still on the way stays (exited) so that the stale statistics that still
// count its job do not make the node launch a replacement too early.
type runnerState struct {
	Runner
	busy      bool // a JobStarted named it
	completed bool // a JobCompleted named it
	removed   bool // its registration was removed to scale down
	exited    bool // its container is gone, its slot free
	stop      context.CancelFunc
	release   func() // gives the agent's slot back (gate.go); nil without a gate
}

func (r *runnerState) counts() bool { return !r.completed && !r.removed }

// scaler is the library listener's Scaler for one Run.
type scaler struct {
	l *Listener
	// spawn starts r's launcher in a goroutine Run owns, setting r.stop.
	spawn func(r *runnerState)
	// launchMu serializes scaling decisions: message handling and slots
	// freed by exiting runners both launch.
	launchMu sync.Mutex
}

// haveLocked counts the runners that still serve (l.mu held).
func (l *Listener) haveLocked() int {
	n := 0
	for _, r := range l.runners {
		if r.counts() {
			n++
		}
	}
	return n
}

var _ listener.Scaler = (*scaler)(nil)

// Desired is min(max, minIdle + assigned).
func Desired(maxRunners, minIdle, assigned int) int {
	return max(0, min(maxRunners, minIdle+assigned))
}

// HandleDesiredRunnerCount records the demand and, in standalone mode,
// launches runners into free slots up to it. It returns the runners this
// node has.
func (s *scaler) HandleDesiredRunnerCount(ctx context.Context, assigned int) (int, error) {
	l := s.l
	desired := Desired(l.cfg.Max, l.cfg.MinIdle, assigned)
	l.metrics.desired.Set(float64(desired))
	l.mu.Lock()
	l.desired = desired
	l.mu.Unlock()
	if l.launcher == nil {
		return desired, nil
	}
	return s.scale(ctx)
}

// scale launches runners into free slots up to min(desired, slots) and
// retires idle ones above it; it returns the runners that serve.
func (s *scaler) scale(ctx context.Context) (int, error) {
	l := s.l
	s.launchMu.Lock()
	defer s.launchMu.Unlock()
	l.mu.Lock()
	target := min(l.desired, l.cfg.Slots)
	have := l.haveLocked()
	l.mu.Unlock()
	if l.gate != nil && !l.gate.Accepting() {
		target = 0 // cordoned or paused: no new runners, idle ones go
	}
	for range target - have {
		launched, err := s.launch(ctx)
		if err != nil {
			return have, err
		}
		if !launched {
			break // no free slot: a container is still being removed
		}
		have++
	}
	if have > target {
		have -= s.retire(ctx, have-target)
	}
	return have, nil
}

// retire stops up to n idle runners. The registration goes first: GitHub
// refuses to remove a runner that has a job (authoritative), and a runner
// without registration can no longer be handed one, so its container can
// be stopped safely.
func (s *scaler) retire(ctx context.Context, n int) int {
	l := s.l
	l.mu.Lock()
	var idle []*runnerState
	for _, r := range l.runners {
		if !r.busy && r.counts() && !r.exited && len(idle) < n {
			idle = append(idle, r)
		}
	}
	l.mu.Unlock()
	done := 0
	for _, r := range idle {
		err := l.api.RemoveRunner(ctx, r.ID)
		switch {
		case err == nil, errors.Is(err, actions.RunnerNotFoundError):
		case errors.Is(err, actions.JobStillRunningError):
			l.mu.Lock()
			r.busy = true
			l.mu.Unlock()
			continue
		default:
			l.log.Warn("scale down: removing runner registration", "runner", r.Name, "err", err)
			continue
		}
		l.mu.Lock()
		r.removed = true
		l.mu.Unlock()
		l.metrics.deregistered.Inc()
		l.log.Info("scale down: runner retired", "runner", r.Name)
		r.stop()
		done++
	}
	return done
}

// launch mints a JIT config for a free slot and hands it to the
// launcher; launched is false when no slot is free.
func (s *scaler) launch(ctx context.Context) (launched bool, err error) {
	l := s.l
	l.mu.Lock()
	if len(l.freeSlots) == 0 {
		l.mu.Unlock()
		return false, nil
	}
	if l.scaleSetID == 0 {
		l.mu.Unlock()
		return false, nil // between sessions: the next statistics scale
	}
	agentSlot := func() {}
	if l.gate != nil {
		r, ok := l.gate.TrySlot()
		if !ok {
			l.mu.Unlock()
			return false, nil // the agent has no slot free, or takes no work
		}
		agentSlot = r
	}
	slot := l.freeSlots[0]
	l.freeSlots = l.freeSlots[1:]
	id := l.scaleSetID
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		l.freeSlots = append(l.freeSlots, slot)
		l.mu.Unlock()
		agentSlot()
	}
	name := runnerName(l.cfg.Owner)
	if l.budget != nil {
		if err := l.budget.Wait(ctx); err != nil {
			release()
			return false, fmt.Errorf("JIT minting budget: %w", err)
		}
	}
	jit, err := l.api.GenerateJitRunnerConfig(ctx, &actions.RunnerScaleSetJitRunnerSetting{Name: name, WorkFolder: l.cfg.WorkFolder}, id)
	if err != nil {
		release()
		return false, fmt.Errorf("generate JIT config for %s: %w", name, err)
	}
	if jit == nil || jit.Runner == nil || jit.EncodedJITConfig == "" {
		release()
		return false, fmt.Errorf("generate JIT config for %s: empty answer", name)
	}
	r := &runnerState{Runner: Runner{Name: name, ID: int64(jit.Runner.ID), EncodedJITConfig: jit.EncodedJITConfig, Slot: slot}, release: agentSlot}
	l.metrics.launched.Inc()
	l.log.Info("launching runner", "runner", name, "runner_id", r.ID, "slot", slot)
	l.mu.Lock()
	s.spawn(r)
	l.runners[name] = r
	l.mu.Unlock()
	return true, nil
}

// runnerName is OWNER-<8 hex>, within GitHub's 64 characters.
func runnerName(owner string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	if len(owner) > 54 {
		owner = owner[:54]
	}
	return owner + "-" + hex.EncodeToString(b)
}

// runRunner runs one launched runner to its end, cleans up after it and
// refills its slot.
func (s *scaler) runRunner(ctx context.Context, r *runnerState) {
	l := s.l
	err := l.launcher.Run(ctx, r.Runner)
	if err != nil && ctx.Err() == nil {
		l.log.Warn("runner ended with an error", "runner", r.Name, "err", err)
	}
	l.mu.Lock()
	skip := r.busy || r.removed
	r.exited = true
	if !r.busy || !r.counts() {
		delete(l.runners, r.Name)
	}
	l.freeSlots = append(l.freeSlots, r.Slot)
	l.mu.Unlock()
	if r.release != nil {
		r.release()
	}
	defer func() {
		if ctx.Err() == nil {
			if _, err := s.scale(ctx); err != nil {
				l.log.Warn("refilling a freed slot", "err", err)
			}
		}
	}()
	if skip {
		return // a JIT runner that took its job unregisters itself
	}
	// It never took a job: remove the registration, or GitHub could
	// assign a job to a runner that is gone.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	switch err := l.api.RemoveRunner(cctx, r.ID); {
	case err == nil:
		l.metrics.deregistered.Inc()
		l.log.Info("removed the registration of a runner that took no job", "runner", r.Name)
	case errors.Is(err, actions.RunnerNotFoundError), httpStatus(err) == 404:
		// Gone already: it took a job after all, or the scale set went.
	case errors.Is(err, actions.JobStillRunningError):
		l.log.Info("runner registration busy; GitHub keeps it", "runner", r.Name)
	default:
		l.log.Warn("removing runner registration", "runner", r.Name, "err", err)
	}
}

// HandleJobStarted marks this node's runner busy.
func (s *scaler) HandleJobStarted(_ context.Context, msg *actions.JobStarted) error {
	l := s.l
	l.mu.Lock()
	if r, ok := l.runners[msg.RunnerName]; ok {
		r.busy = true
	}
	l.mu.Unlock()
	l.log.Info("job started", "job", msg.JobID, "request", msg.RunnerRequestID, "runner", msg.RunnerName,
		"repo", msg.OwnerName+"/"+msg.RepositoryName)
	return nil
}

// HandleJobCompleted marks this node's runner done; its container exits
// by itself.
func (s *scaler) HandleJobCompleted(_ context.Context, msg *actions.JobCompleted) error {
	l := s.l
	l.mu.Lock()
	if r, ok := l.runners[msg.RunnerName]; ok {
		r.completed = true
		if r.exited {
			delete(l.runners, msg.RunnerName)
		}
	}
	l.mu.Unlock()
	s.l.log.Info("job completed", "job", msg.JobID, "request", msg.RunnerRequestID, "runner", msg.RunnerName, "result", msg.Result)
	return nil
}
