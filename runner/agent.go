package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/config"
)

// Agent runs jobs from its sources in slots: at most Concurrent jobs in
// total and each source's Limit per source. A slot asks its source for a job
// only while it holds a free global slot.
type Agent struct {
	sources         []Source
	concurrent      int
	shutdownTimeout time.Duration
	cleanupTimeout  time.Duration
	errorPause      time.Duration
	logger          *slog.Logger
	metrics         *Metrics
	clock           clock.Clock

	// Set while Run runs: stop polling (Cordon) and abort running jobs.
	mu          sync.Mutex
	stopPolling context.CancelFunc
	abortJobs   context.CancelFunc
	cordoned    string                // the reason, once cordoned
	paused      map[string]bool       // transient conditions (pressure) in force
	resumed     chan struct{}         // closed and replaced when a condition clears
	running     map[string]RunningJob // by source and job id (status.go)

	// slots are the concurrent slots, shared fairly by the sources
	// (slots.go).
	slots *slots
	// reported are conditions sources raise without pausing the node
	// (conditions.go).
	reported reportedConditions
	// jobs caps the jobs the node starts in its life (maxjobs.go).
	jobs jobBudget
	// cleanups are the engine cleanups of finished jobs running after
	// their slots were freed (cleanups.go).
	cleanups *cleanups
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
	// Clock is the agent's time source (runner/clock); nil = wall clock.
	Clock clock.Clock
	// CleanupTimeout bounds the cleanup of one job that runs after its
	// slot was freed (Cleaner), and Run's wait for those still running
	// when it stops ([cleanup] timeout; 0 = config.DefaultCleanupTimeout).
	CleanupTimeout time.Duration
	// CleanupStartHold is the longest a cleanup waits for the jobs
	// starting (Starter) to be up before it runs anyway ([cleanup]
	// start_hold; 0 = config.DefaultCleanupStartHold).
	CleanupStartHold time.Duration
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
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = config.DefaultCleanupTimeout
	}
	if o.CleanupStartHold <= 0 {
		o.CleanupStartHold = config.DefaultCleanupStartHold
	}
	a := &Agent{
		paused:          map[string]bool{},
		resumed:         make(chan struct{}),
		slots:           newSlots(o.Concurrent),
		cleanups:        newCleanups(o.Concurrent, o.CleanupStartHold),
		sources:         o.Sources,
		concurrent:      o.Concurrent,
		shutdownTimeout: o.ShutdownTimeout,
		cleanupTimeout:  o.CleanupTimeout,
		errorPause:      o.ErrorPause,
		logger:          o.Logger,
		metrics:         o.Metrics,
		clock:           clock.Or(o.Clock),
	}
	a.wireConditionReporters()
	return a
}

// Run polls and runs jobs until ctx is cancelled (SIGTERM): then it stops
// asking for work at once, lets running jobs finish for up to the shutdown
// timeout, then aborts them (they report runner_system_failure) and
// returns when every job has reported and the cleanups of finished jobs
// have ended (up to the cleanup timeout).
func (a *Agent) Run(ctx context.Context) error {
	if len(a.sources) == 0 {
		return errors.New("no runners configured: run 'runner register' first")
	}
	names := map[string]bool{}
	for _, src := range a.sources {
		if names[src.Name()] {
			// Slots, busy counts and metrics are kept by source name.
			return fmt.Errorf("two runners are named %q: give each [[runners]], [[github]] and [[github_scale_set]] table its own name", src.Name())
		}
		names[src.Name()] = true
	}
	if len(a.sources) > a.concurrent {
		a.logger.Warn("fewer concurrent slots than runners: a runner may wait while others hold every slot",
			"concurrent", a.concurrent, "runners", len(a.sources))
	}
	// Jobs outlive the polling context by up to the shutdown timeout.
	jobCtx, abortJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer abortJobs()
	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	// Cleanups run on after an abort: only Run's end cancels them.
	cleanCtx, cancelCleanups := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCleanups()
	a.mu.Lock()
	a.stopPolling, a.abortJobs = stopPolling, abortJobs
	if a.cordoned != "" {
		stopPolling()
	}
	a.mu.Unlock()
	stopTimer := context.AfterFunc(ctx, func() {
		a.logger.Info("shutting down: no new jobs; waiting for running jobs", "timeout", a.shutdownTimeout)
		stop := clock.AfterFunc(a.clock, a.shutdownTimeout, func() {
			a.logger.Warn("shutdown timeout reached: aborting running jobs")
			abortJobs()
		})
		context.AfterFunc(jobCtx, func() { stop() })
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
				a.slotLoop(pollCtx, jobCtx, cleanCtx, src, Slot{Source: src.Name(), Index: i})
			})
		}
	}
	wg.Wait()
	// A cordoned node stays up (metrics, health, a later drain) until
	// told to stop; it never polls again.
	<-ctx.Done()
	a.waitCleanups(ctx, cancelCleanups)
	return nil
}

// slotLoop is one slot of src: it holds a node slot (slots.go) from
// before Acquire until the job it got has ended (its cleanup, when it is
// a Cleaner, goes on in the background: cleanups.go), keeping it across
// polls that bring no job unless a source holding fewer waits for one.
func (a *Agent) slotLoop(ctx, jobCtx, cleanCtx context.Context, src Source, slot Slot) {
	log := a.logger.With("runner", slot.Source, "slot", slot.Index)
	sb, _ := src.(Standby)
	standby := sb != nil && sb.Standby()
	dw, _ := src.(DemandWaiter)
	var hold *slotHold
	release := func() {
		if hold != nil {
			a.slots.release(hold)
			hold = nil
		}
	}
	defer release()
	// turnover counts the slot as starting from the end of a job until
	// its next job is up, or its next poll ends without one or has not
	// brought one within turnoverHold: the finished job's cleanup waits
	// for that (cleanups.go).
	turnover := func() {}
	defer func() { turnover() }()
	for {
		if a.pausedNow() {
			release()
		}
		if err := a.waitRunnable(ctx); err != nil {
			return
		}
		if hold == nil {
			if dw != nil {
				if err := dw.WaitDemand(ctx); err != nil {
					return
				}
			}
			h, err := a.slots.take(ctx, slot.Source, standby)
			if err != nil {
				return
			}
			hold = h
		}
		// Never ask for a job once polling has stopped.
		if ctx.Err() != nil {
			return
		}
		if !a.jobs.tryReserve() {
			// As many slots ask for a job as may still start (maxjobs.go):
			// wait without holding a node slot.
			turnover()
			release()
			if a.jobs.wait(ctx) != nil {
				return
			}
			continue
		}
		actx, cancel := context.WithCancel(ctx)
		a.slots.acquire(hold, cancel)
		if standby && a.pausedNow() {
			cancel() // paused meanwhile: Pause's withdrawal may have missed it
		}
		job, err := src.Acquire(actx, slot)
		last := a.jobs.acquired(err == nil)
		a.slots.acquired(hold)
		preempted := actx.Err() != nil && ctx.Err() == nil
		cancel()
		if err != nil {
			turnover()
		}
		switch {
		case err == nil:
			turnover = a.run(ctx, jobCtx, cleanCtx, log, src, job, last, turnover)
			release() // the next job's slot goes to the fairest waiter
		case preempted:
			log.Debug("slot given to a runner that had none")
			release()
		case errors.Is(err, ErrNoJob):
			if dw != nil || a.slots.yield(hold) {
				hold = nil // no demand left, or a starving source took it
			}
		case ctx.Err() != nil:
			return
		default:
			log.Warn("acquiring a job failed", "err", err)
			release()
			if clock.Sleep(ctx, a.clock, a.errorPause) != nil {
				return
			}
		}
	}
}

// run runs job with ctx (jobCtx), then starts its cleanup (cleanups.go;
// pollCtx ends the wait for room); cordon, when set, is the reason to
// cordon the node once the job shows as running (the last job it may
// start, maxjobs.go): a heartbeat never sees the node cordoned and idle
// before its last job. The slot's turnover, counted as a start, ends once
// job counts as starting itself; run returns the next turnover's end.
func (a *Agent) run(pollCtx, ctx, cleanCtx context.Context, log *slog.Logger, src Source, job Job, cordon string, turnover func()) (nextTurnover func()) {
	log = log.With("job", job.ID())
	log.Info("job started")
	a.metrics.jobStarted(src.Name())
	start := a.clock.Now()
	untrack := a.track(src.Name(), job.ID(), start)
	defer untrack()
	if cordon != "" {
		log.Info("the node's last job started: cordoning itself", "reason", cordon)
		a.Cordon(cordon)
	}
	ran := a.cleanups.starts(job)
	turnover()
	out := job.Run(ctx)
	ran()
	nextTurnover = a.turnover()
	d := a.clock.Now().Sub(start)
	a.metrics.jobFinished(src.Name(), out, d)
	log.Info("job finished", "state", out.State, "failure_reason", out.FailureReason, "duration", d.Round(time.Millisecond))
	// Still tracked: while it waits for room the job holds its slot.
	a.cleanUp(pollCtx, cleanCtx, log, src.Name(), job)
	return nextTurnover
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
}

// AbortJobsAt aborts the running jobs at t (they report
// runner_system_failure), e.g. shortly before a spot instance goes.
func (a *Agent) AbortJobsAt(t time.Time) {
	clock.AfterFunc(a.clock, t.Sub(a.clock.Now()), func() {
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
// MemoryPressure) is in force, withdrawing idle standby runners (GitHub);
// Resume clears it. Running jobs go on.
func (a *Agent) Pause(condition string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.paused[condition] {
		return
	}
	a.paused[condition] = true
	a.logger.Warn("node condition: taking no new jobs until it clears", "condition", condition)
	a.metrics.setCondition(condition, true)
	// Idle runners waiting for a job would take one: withdraw them.
	a.slots.withdrawStandby()
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
}

// pausedNow reports whether a transient condition is in force.
func (a *Agent) pausedNow() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.paused) > 0
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
