package runner

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Agent runs jobs from its sources in slots: at most Concurrent jobs in
// total and each source's Limit per source. A slot asks its source for a job
// only while it holds a free global slot.
type Agent struct {
	sources         []Source
	concurrent      int
	shutdownTimeout time.Duration
	errorPause      time.Duration
	logger          *slog.Logger
	metrics         *Metrics

	// Set while Run runs: stop polling (Cordon) and abort running jobs.
	mu          sync.Mutex
	stopPolling context.CancelFunc
	abortJobs   context.CancelFunc
	cordoned    string                // the reason, once cordoned
	paused      map[string]bool       // transient conditions (pressure) in force
	resumed     chan struct{}         // closed and replaced when a condition clears
	running     map[string]RunningJob // by source and job id (status.go)

	// global holds the concurrent slots, shared by the slot loops and by
	// work started outside them (TrySlot, slotgate.go).
	global  chan struct{}
	changed chan struct{} // closed and replaced on cordon, pause, resume, TrySlot release
}

// AgentOptions configures an Agent.
type AgentOptions struct {
	Sources         []Source
	Concurrent      int
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	Metrics         *Metrics // nil disables metrics
	// ErrorPause is the pause after an unexpected Acquire error (sources
	// do their own backoff; this only guards against a hot loop).
	ErrorPause time.Duration
}

// NewAgent returns an agent ready to Run.
func NewAgent(o AgentOptions) *Agent {
	if o.Concurrent <= 0 {
		o.Concurrent = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ErrorPause <= 0 {
		o.ErrorPause = time.Second
	}
	return &Agent{
		paused:          map[string]bool{},
		resumed:         make(chan struct{}),
		global:          make(chan struct{}, o.Concurrent),
		changed:         make(chan struct{}),
		sources:         o.Sources,
		concurrent:      o.Concurrent,
		shutdownTimeout: o.ShutdownTimeout,
		errorPause:      o.ErrorPause,
		logger:          o.Logger,
		metrics:         o.Metrics,
	}
}

// Run polls and runs jobs until ctx is cancelled (SIGTERM): then it stops
// asking for work at once, lets running jobs finish for up to the shutdown
// timeout, then aborts them (they report runner_system_failure) and
// returns when every job has reported.
func (a *Agent) Run(ctx context.Context) error {
	if len(a.sources) == 0 {
		return errors.New("no runners configured: run 'runner register' first")
	}
	global := a.global
	// Jobs outlive the polling context by up to the shutdown timeout.
	jobCtx, abortJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer abortJobs()
	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	a.mu.Lock()
	a.stopPolling, a.abortJobs = stopPolling, abortJobs
	if a.cordoned != "" {
		stopPolling()
	}
	a.mu.Unlock()
	stopTimer := context.AfterFunc(ctx, func() {
		a.logger.Info("shutting down: no new jobs; waiting for running jobs", "timeout", a.shutdownTimeout)
		t := time.AfterFunc(a.shutdownTimeout, func() {
			a.logger.Warn("shutdown timeout reached: aborting running jobs")
			abortJobs()
		})
		context.AfterFunc(jobCtx, func() { t.Stop() })
	})
	defer stopTimer()

	a.metrics.setConcurrent(a.concurrent)
	var wg sync.WaitGroup
	for _, src := range a.sources {
		n := src.Limit()
		if n <= 0 || n > a.concurrent {
			n = a.concurrent
		}
		a.metrics.setLimit(src.Name(), n)
		for i := range n {
			wg.Go(func() {
				a.slotLoop(pollCtx, jobCtx, src, Slot{Source: src.Name(), Index: i}, global)
			})
		}
	}
	wg.Wait()
	// A cordoned node stays up (metrics, health, a later drain) until
	// told to stop; it never polls again.
	<-ctx.Done()
	return nil
}

func (a *Agent) slotLoop(ctx, jobCtx context.Context, src Source, slot Slot, global chan struct{}) {
	log := a.logger.With("runner", slot.Source, "slot", slot.Index)
	for {
		if err := a.waitRunnable(ctx); err != nil {
			return
		}
		select {
		case global <- struct{}{}:
		case <-ctx.Done():
			return
		}
		// select picks at random among ready cases: never ask for a job
		// once polling has stopped.
		if ctx.Err() != nil {
			<-global
			return
		}
		job, err := src.Acquire(ctx, slot)
		switch {
		case err == nil:
			a.run(jobCtx, log, src, job)
		case errors.Is(err, ErrNoJob):
		case ctx.Err() != nil:
			<-global
			return
		default:
			log.Warn("acquiring a job failed", "err", err)
			<-global
			select {
			case <-time.After(a.errorPause):
			case <-ctx.Done():
				return
			}
			continue
		}
		<-global
	}
}

func (a *Agent) run(ctx context.Context, log *slog.Logger, src Source, job Job) {
	log = log.With("job", job.ID())
	log.Info("job started")
	a.metrics.jobStarted(src.Name())
	start := time.Now()
	untrack := a.track(src.Name(), job.ID(), start)
	defer untrack()
	out := job.Run(ctx)
	d := time.Since(start)
	a.metrics.jobFinished(src.Name(), out, d)
	log.Info("job finished", "state", out.State, "failure_reason", out.FailureReason, "duration", d.Round(time.Millisecond))
}

// Cordon stops taking new jobs at once (a spot notice, node pressure);
// running jobs go on. Run keeps running until its context ends.
func (a *Agent) Cordon(reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cordoned != "" {
		return
	}
	a.cordoned = reason
	a.logger.Warn("node cordoned: taking no new jobs", "reason", reason)
	a.metrics.setCondition(reason, true)
	if a.stopPolling != nil {
		a.stopPolling()
	}
	a.notifyLocked()
}

// AbortJobsAt aborts the running jobs at t (they report
// runner_system_failure), e.g. shortly before a spot instance goes.
func (a *Agent) AbortJobsAt(t time.Time) {
	time.AfterFunc(time.Until(t), func() {
		a.mu.Lock()
		abort := a.abortJobs
		a.mu.Unlock()
		if abort != nil {
			a.logger.Warn("aborting running jobs before the node goes away")
			abort()
		}
	})
}

// Pause stops taking new jobs while a transient condition (DiskPressure,
// MemoryPressure) is in force; Resume clears it. Running jobs go on.
func (a *Agent) Pause(condition string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.paused[condition] {
		return
	}
	a.paused[condition] = true
	a.logger.Warn("node condition: taking no new jobs until it clears", "condition", condition)
	a.metrics.setCondition(condition, true)
	a.notifyLocked()
}

// Resume clears a condition set by Pause.
func (a *Agent) Resume(condition string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.paused[condition] {
		return
	}
	delete(a.paused, condition)
	a.logger.Info("node condition cleared", "condition", condition)
	a.metrics.setCondition(condition, false)
	close(a.resumed)
	a.resumed = make(chan struct{})
	a.notifyLocked()
}

// waitRunnable blocks while any transient condition is in force.
func (a *Agent) waitRunnable(ctx context.Context) error {
	for {
		a.mu.Lock()
		n, wake := len(a.paused), a.resumed
		a.mu.Unlock()
		if n == 0 {
			return ctx.Err()
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
