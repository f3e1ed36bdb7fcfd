package runner

import (
	"context"
	"errors"
)

// ErrNoJob is returned by Source.Acquire when the platform had no job for
// this request; the slot asks again at once (the source paces itself with
// long polling and backoff).
var ErrNoJob = errors.New("no job")

// Source hands out jobs for one registered runner.
type Source interface {
	// Name identifies the runner in logs and metric labels.
	Name() string
	// Limit is the most jobs this source may run at once (0 = no own limit).
	Limit() int
	// Acquire blocks until the platform hands out a job, returning ErrNoJob
	// when a request ended without one. It is called only by a free slot.
	Acquire(ctx context.Context, slot Slot) (Job, error)
}

// Slot identifies where a job runs; Index is stable per source so build
// directories can be reused between jobs of the same slot.
type Slot struct {
	Source string
	Index  int
}

// Job is one accepted job. Run drives it to a final state on its platform
// and reports that state exactly once. Cancelling ctx aborts the job
// (shutdown timeout): Run must still report the final state, using a
// context detached from ctx for that last call. The job's slot is held
// until Run returns; a job that is also a Cleaner returns once the
// platform has its final state and leaves the removal of its containers,
// network and volumes to Cleanup, which runs after the slot is freed.
type Job interface {
	ID() string
	Run(ctx context.Context) Outcome
}

// Cleaner is implemented by jobs whose engine cleanup may run off their
// slot, as a kubelet tears a pod down while it admits the next one. The
// agent calls Cleanup once, after Run returned, in the background once
// the slot is free (cleanups.go): Run must already have left the slot's
// files as the next job of the slot expects them, and Cleanup must touch
// nothing that job uses. ctx ends at the agent's cleanup timeout; an
// error is logged and counted, nothing else (the agent's reaper removes
// whatever a failed cleanup left).
type Cleaner interface {
	Cleanup(ctx context.Context) error
}

// Starter is implemented by jobs that tell when their start-up (creating
// and starting their containers) is over: Started is closed then. While
// a job starts, the agent holds back the cleanups of finished jobs (for a
// few seconds at most), so they do not slow the start down on the engine;
// they run while the jobs' scripts do. A job that is no Starter counts as
// started at once.
type Starter interface {
	Started() <-chan struct{}
}

// Outcome is how a job ended, for metrics and logs.
type Outcome struct {
	State         State         // StateSuccess, StateFailed, StateCanceled or StateUnreported
	FailureReason FailureReason // set when State is StateFailed or StateCanceled by the agent
	// Queued is how long the job waited on the platform before this agent
	// took it (0 when unknown).
	Queued float64 // seconds
}
