package gitlab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/journal"
)

// defaultQuietCheck is how often a job with no new output asks GitLab
// whether it was canceled.
const defaultQuietCheck = 10 * time.Second

// SourceOptions configures a GitLab job source for one registered runner.
type SourceOptions struct {
	Runner   config.Runner
	Client   *Client
	SystemID string
	Info     VersionInfo
	Build    BuildSettings
	Logger   *slog.Logger
	// CheckInterval is the pause between polls when the server answers at
	// once without long polling (default 3 s).
	CheckInterval time.Duration
	// Backoff paces polling after errors (default 1 s doubling to 30 s,
	// with jitter).
	Backoff *Backoff
	// Trace tunes job logs (zero value = defaults).
	Trace TraceOptions
	// Journal, when set, records each job before it starts and forgets it
	// once GitLab acknowledged its final state (journal.go).
	Journal *journal.Journal
	// Clock paces polls, the shared backoff and token rotation, and
	// stamps job phases (default the wall clock).
	Clock Clock
}

// Source polls POST jobs/request for one runner. Its slots share one
// long-poll cursor and one backoff: when GitLab fails, every slot backs
// off; the first answer from GitLab wakes them all.
type Source struct {
	o   SourceOptions
	log *slog.Logger

	mu         sync.Mutex
	token      string // the runner token; rotation replaces it
	lastUpdate string
	backoff    *Backoff
	retryAt    time.Time
	recovered  chan struct{} // closed when GitLab answers after errors
	// earlyWakes counts held polls in a row that ended before
	// check_interval without a job (woken).
	earlyWakes int
}

// maxEarlyWakes is how many held polls in a row may end early and be
// followed by another poll at once: a change of the queue wakes every
// slot's held poll, and the next polls take its jobs.
const maxEarlyWakes = 16

// NewSource returns a source for the runner.
func NewSource(o SourceOptions) *Source {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = 3 * time.Second
	}
	if o.Backoff == nil {
		o.Backoff = &Backoff{Min: time.Second, Max: 30 * time.Second, Jitter: EqualJitter}
	}
	if o.Info.Features == (FeaturesInfo{}) {
		o.Info.Features = ImplementedFeatures()
	}
	o.Clock = clock.Or(o.Clock)
	return &Source{
		o:         o,
		log:       o.Logger.With("runner", o.Runner.Name),
		backoff:   o.Backoff,
		recovered: make(chan struct{}),
		token:     o.Runner.Token,
	}
}

// Name is the runner's name.
func (s *Source) Name() string { return s.o.Runner.Name }

// Limit is the runner's limit (0 = only the global concurrency).
func (s *Source) Limit() int { return s.o.Runner.Limit }

// Acquire asks GitLab for one job. It waits out a shared backoff first, and
// returns runner.ErrNoJob when GitLab had nothing.
func (s *Source) Acquire(ctx context.Context, slot runner.Slot) (runner.Job, error) {
	if err := s.waitBackoff(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	last, token := s.lastUpdate, s.token
	s.mu.Unlock()
	start := s.o.Clock.Now()
	res, err := s.o.Client.RequestJob(ctx, RequestJobBody{
		Token: token, SystemID: s.o.SystemID, LastUpdate: last, Info: s.o.Info,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, s.failed(err)
	}
	s.succeeded(res.LastUpdate)
	if res.Job == nil {
		// Without long polling (the answer came at once and nothing
		// changed) pace ourselves with check_interval. A poll that
		// workhorse held (the cursor was sent, the answer carries none)
		// ended because the queue changed: ask again at once, as long
		// as such early ends stay few (woken), so that a proxy answering
		// every poll that way at once is still paced.
		elapsed := s.o.Clock.Now().Sub(start)
		if (res.LastUpdate == "" || res.LastUpdate == last) && !s.woken(last != "" && res.LastUpdate == "", elapsed) {
			if wait := s.o.CheckInterval - elapsed; wait > 0 {
				if err := clock.Sleep(ctx, s.o.Clock, wait); err != nil {
					return nil, err
				}
			}
		}
		return nil, runner.ErrNoJob
	}
	s.woken(false, 0)
	now := s.o.Build.Now
	if now == nil {
		now = s.o.Clock.Now
	}
	return s.accept(ctx, res.Job, slot, newJobPhases(now))
}

// accept commits to the job (two-phase commit: the job stays pending until
// this PUT) and wraps it for the slot.
func (s *Source) accept(ctx context.Context, job *JobResponse, slot runner.Slot, phases *jobPhases) (runner.Job, error) {
	log := s.log.With("job", job.ID, "project", job.JobInfo.ProjectFullPath)
	j := &remoteJob{src: s, job: job, slot: slot, log: log, phases: phases, started: newSignal()}
	// Recorded before it is ours: a crash from here on is reported.
	j.rec = j.record()
	_, err := s.o.Client.UpdateJob(ctx, job.ID, UpdateJobBody{Token: job.Token, State: "running"})
	if err != nil {
		// Someone else has it, or GitLab dropped it: it is not ours.
		log.Warn("could not accept job; leaving it to GitLab", "err", err)
		if err := j.rec.done(); err != nil {
			log.Warn("removing the job's journal record", "err", err)
		}
		return nil, runner.ErrNoJob
	}
	phases.mark("accepted")
	return j, nil
}

// woken reports whether a poll without a job may be followed by another
// at once: held says workhorse held it and let it go, after elapsed. A
// hold that lasted check_interval, or a job, starts the count afresh.
func (s *Source) woken(held bool, elapsed time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !held || elapsed >= s.o.CheckInterval {
		s.earlyWakes = 0
		return held
	}
	s.earlyWakes++
	return s.earlyWakes <= maxEarlyWakes
}

// failed records an error and decides the next pause.
func (s *Source) failed(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var wait time.Duration
	switch {
	case errors.Is(err, ErrConflict):
		return runner.ErrNoJob // lost a race: poll again at once
	case errors.Is(err, ErrTooManyRequests):
		wait = RetryAfter(err)
		if wait <= 0 {
			wait = s.backoff.Next()
		}
	case errors.Is(err, ErrForbidden):
		wait = s.backoff.Next()
		s.log.Error("GitLab refused the runner token: check it with 'runner verify'", "retry_in", wait.Round(time.Millisecond))
	case errors.Is(err, ErrOrphaned):
		wait = s.backoff.Next()
		s.log.Error("GitLab says this runner no longer exists: re-register it", "retry_in", wait.Round(time.Millisecond))
	default:
		wait = s.backoff.Next()
	}
	if until := s.o.Clock.Now().Add(wait); until.After(s.retryAt) {
		s.retryAt = until
	}
	s.log.Warn("requesting a job failed", "err", err, "retry_in", wait.Round(time.Millisecond))
	return runner.ErrNoJob
}

// succeeded resets the backoff and wakes slots waiting it out.
func (s *Source) succeeded(lastUpdate string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lastUpdate != "" {
		s.lastUpdate = lastUpdate
	}
	if !s.retryAt.IsZero() {
		s.retryAt = time.Time{}
		s.backoff.Reset()
		close(s.recovered)
		s.recovered = make(chan struct{})
	}
}

// waitBackoff sleeps until the shared retry time, or until another slot saw
// GitLab answer again. Only one slot probes while the others wait.
func (s *Source) waitBackoff(ctx context.Context) error {
	s.mu.Lock()
	wait := s.retryAt.Sub(s.o.Clock.Now())
	woke := s.recovered
	s.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	t := s.o.Clock.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C():
	case <-woke:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// remoteJob is one accepted GitLab job.
type remoteJob struct {
	src  *Source
	job  *JobResponse
	slot runner.Slot
	log  *slog.Logger
	rec  *jobRecord // journal.go
	// phases are the job's timestamps since hand-out (phases.go).
	phases *jobPhases
	// engine is the build whose containers, network and volumes Cleanup
	// removes once Run returned (nil: none left to remove).
	engine *build
	// started is closed once the job's script is about to run: its
	// containers are up (runner.Starter).
	started *signal
}

func (j *remoteJob) ID() string { return strconv.FormatInt(j.job.ID, 10) }

// Run runs the build, streaming the log, and reports the final state
// exactly once.
func (j *remoteJob) Run(ctx context.Context) runner.Outcome {
	opts := j.src.o.Trace
	opts.Client, opts.JobID, opts.JobToken = j.src.o.Client, j.job.ID, j.job.Token
	opts.Info = &j.src.o.Info
	opts.Secrets = append(j.job.Variables.Masked(), j.job.Token)
	opts.TokenPrefixes = j.job.Features.TokenMaskPrefixes
	if opts.Limit == 0 {
		opts.Limit = j.src.o.Runner.OutputLimit
	}
	if opts.KeepAliveInterval == 0 {
		// A quiet job still learns of a cancel within this long (GitLab
		// only says so in answers): 10 s rather than gitlab-runner's 30 s.
		opts.KeepAliveInterval = defaultQuietCheck
	}
	opts.Logger = j.log
	rec := j.rec
	defer rec.close()
	opts.Spool = rec.spoolWriter()
	tr, err := NewTrace(opts)
	if err != nil {
		// Cannot happen with a client and a job; report it loudly anyway.
		j.log.Error("creating the job log failed", "err", err)
		return runner.Outcome{State: runner.StateUnreported, FailureReason: runner.FailureRunnerSystem}
	}
	var wg sync.WaitGroup
	// The sender outlives ctx: the final log must reach GitLab even when the
	// agent aborts the job.
	senderCtx, stopSender := context.WithCancel(context.WithoutCancel(ctx))
	wg.Go(func() { _ = tr.Run(senderCtx) })
	b := &build{s: j.src.o.Build, job: j.job, rep: tr, slot: j.slot.Index, phases: j.phases, started: j.started}
	res := b.run(ctx)
	out := runner.Outcome{State: runner.State(res.State), FailureReason: runner.FailureReason(res.FailureReason), Queued: j.job.JobInfo.TimeInQueueSeconds}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	if err := tr.Finish(fctx, res); err != nil {
		j.log.Error("reporting the final state failed", "err", err)
		out.State = runner.StateUnreported
	} else if err := rec.done(); err != nil {
		j.log.Warn("removing the job's journal record", "err", err)
	}
	j.phases.mark("final_acknowledged")
	later := b.engineCleanupLater()
	if later {
		if err := b.stopProcesses(context.WithoutCancel(ctx)); err != nil {
			j.log.Warn("stopping the job's processes: removing its containers before its slot is free", "err", err)
			later = false
		} else {
			j.phases.mark("processes_stopped")
		}
	}
	if later {
		// GitLab has the final state and no process of the job runs any
		// more: the slot is free once its build directory is ready for the
		// slot's next job; the agent removes the containers, network and
		// volumes off the slot (Cleanup). The journal record is gone
		// already: should the agent die before Cleanup ends, the next
		// start's reap removes them by the node's label (every object the
		// executors create carries it).
		if err := b.cleanupFiles(); err != nil {
			j.log.Warn("cleaning up the build directory after the job", "err", err)
		}
		j.phases.mark("slot_free")
		j.engine = b
	} else {
		// The slot stays busy until the job's containers are gone.
		if err := b.cleanup(ctx); err != nil {
			j.log.Warn("cleaning up after the job", "err", err)
		}
		j.phases.mark("cleaned_up")
		j.phases.log(j.log)
	}
	stopSender()
	wg.Wait()
	return out
}

var (
	_ runner.Cleaner = (*remoteJob)(nil)
	_ runner.Starter = (*remoteJob)(nil)
)

// Started is closed once the job's containers are up and its script is
// about to run (runner.Starter): the agent holds other jobs' cleanups
// back until then.
func (j *remoteJob) Started() <-chan struct{} { return j.started.wait() }

// Cleanup removes the containers, network and volumes of the job once Run
// returned, while its slot runs the next job (runner.Cleaner).
func (j *remoteJob) Cleanup(ctx context.Context) error {
	b := j.engine
	if b == nil {
		return nil
	}
	j.engine = nil
	err := b.cleanupEngine(ctx)
	j.phases.mark("cleaned_up")
	j.phases.log(j.log)
	return err
}

// String helps logs.
func (j *remoteJob) String() string { return fmt.Sprintf("gitlab job %d", j.job.ID) }
