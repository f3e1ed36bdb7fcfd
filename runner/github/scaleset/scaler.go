package scaleset

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	actions "github.com/actions/scaleset"
	"github.com/actions/scaleset/listener"
)

// Launcher runs one official runner from an encoded JIT config, in a
// container of the executor in use, and returns when the runner exits
// (after its one job, on failure, or when ctx ends, in which case it stops
// the container). ContainerLauncher is the one the agent uses.
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
	// Slot is the agent's slot index the runner occupies.
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
	busy      bool    // a JobStarted named it
	completed bool    // a JobCompleted named it
	result    string  // the JobCompleted's result
	queued    float64 // seconds from queued to this runner taking the job
	removed   bool    // its registration was removed to scale down
	exited    bool    // its container is gone
	done      chan struct{}
	err       error // how the launcher ended, valid once done is closed
	stop      context.CancelFunc
}

func (r *runnerState) counts() bool { return !r.completed && !r.removed }

// scaler is the library listener's Scaler for one Run: it records the
// demand and the jobs' progress; the agent's slots (source.go) act on it.
type scaler struct {
	l *Listener
}

// haveLocked counts the runners that still serve or are being started
// (l.mu held).
func (l *Listener) haveLocked() int {
	n := l.launching
	for _, r := range l.runners {
		if r.counts() {
			n++
		}
	}
	return n
}

// notifyLocked wakes the slots waiting on a change (l.mu held).
func (l *Listener) notifyLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

var _ listener.Scaler = (*scaler)(nil)

// Desired is min(max, minIdle + assigned).
func Desired(maxRunners, minIdle, assigned int) int {
	return max(0, min(maxRunners, minIdle+assigned))
}

// HandleDesiredRunnerCount records the demand, which wakes the agent's
// slots waiting for it (WaitDemand) or lets idle runners above it retire.
// It returns the runners this node has (the demand itself without a
// launcher).
func (s *scaler) HandleDesiredRunnerCount(_ context.Context, assigned int) (int, error) {
	l := s.l
	desired := Desired(l.cfg.Max, l.cfg.MinIdle, assigned)
	l.metrics.desired.Set(float64(desired))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.desired != desired {
		l.desired = desired
		l.notifyLocked()
	}
	if l.launcher == nil {
		return desired, nil
	}
	return l.haveLocked(), nil
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

// HandleJobStarted marks this node's runner busy: its slot's Acquire
// returns the job.
func (s *scaler) HandleJobStarted(_ context.Context, msg *actions.JobStarted) error {
	l := s.l
	l.mu.Lock()
	if r, ok := l.runners[msg.RunnerName]; ok {
		r.busy = true
		if !msg.QueueTime.IsZero() && msg.RunnerAssignTime.After(msg.QueueTime) {
			r.queued = msg.RunnerAssignTime.Sub(msg.QueueTime).Seconds()
		}
		l.notifyLocked()
	}
	l.mu.Unlock()
	if l.events != nil {
		l.events.JobStarted(msg)
	}
	l.log.Info("job started", "job", msg.JobID, "request", msg.RunnerRequestID, "runner", msg.RunnerName,
		"repo", msg.OwnerName+"/"+msg.RepositoryName)
	return nil
}

// HandleJobCompleted marks this node's runner done; its container exits
// by itself and its slot's job reports the result.
func (s *scaler) HandleJobCompleted(_ context.Context, msg *actions.JobCompleted) error {
	l := s.l
	l.mu.Lock()
	if r, ok := l.runners[msg.RunnerName]; ok {
		r.completed, r.result = true, msg.Result
		if r.exited {
			delete(l.runners, msg.RunnerName)
		}
		l.notifyLocked()
	}
	l.mu.Unlock()
	if l.events != nil {
		l.events.JobCompleted(msg)
	}
	s.l.log.Info("job completed", "job", msg.JobID, "request", msg.RunnerRequestID, "runner", msg.RunnerName, "result", msg.Result)
	return nil
}
