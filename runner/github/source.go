package github

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/journal"
)

// RunnerAPI is what the source needs from GitHub: the REST client
// (*Client) with a table's own credentials, or on a fleet node the fleet
// API answering for GitHub (runner/fleet.GitHub), which mints and answers
// for the node's runners with the node token.
type RunnerAPI interface {
	MintJIT(ctx context.Context, req JITRequest) (JITConfig, error)
	ListRunners(ctx context.Context, name string) ([]RunnerStatus, error)
	DeleteRunner(ctx context.Context, id int64) error
	RunnerJob(ctx context.Context, ref JobRef, runner string) (JobStatus, bool, error)
}

var _ RunnerAPI = (*Client)(nil)

// SourceOptions configure a Source.
type SourceOptions struct {
	// Name identifies the source in logs and metrics.
	Name     string
	API      RunnerAPI
	Launcher *RunnerLauncher
	// Node is this agent's node name; every runner name starts with
	// NamePrefix + Node + "-", which is how stale registrations of this
	// node are found.
	Node, NamePrefix string
	Labels           []string
	RunnerGroupID    int64
	Limit            int
	Logger           *slog.Logger
	// EventPoll is how often an idle runner's hook events are checked
	// (default 100 ms; a local file stat).
	EventPoll time.Duration
	// CleanupTimeout bounds registration deletes and container removal
	// after the caller's context ended (default 30 s).
	CleanupTimeout time.Duration
	// OutdatedRecheck is how long minting stays stopped after GitHub
	// refused the image's runner as outdated, before one runner probes
	// whether the image was updated (default 30 min; source_outdated.go).
	OutdatedRecheck time.Duration
	// Journal, when set, records each minted runner until its
	// registration is removed (journal.go).
	Journal *journal.Journal
	// Clock paces the event polls, the outcome retries and the outdated
	// gate (default the wall clock).
	Clock clock.Clock
}

// Source is the label-mode GitHub job source: Acquire keeps one idle
// ephemeral JIT runner per slot and returns once GitHub has handed it a job.
type Source struct {
	o   SourceOptions
	log *slog.Logger

	outdated *OutdatedGate // source_outdated.go
	// inflight are the mints cancelled Acquires left in flight (mint.go).
	inflight sync.WaitGroup
}

var (
	_ runner.Source  = (*Source)(nil)
	_ runner.Standby = (*Source)(nil)
)

// NewSource returns a Source.
func NewSource(o SourceOptions) (*Source, error) {
	if o.API == nil || o.Launcher == nil || o.Node == "" || len(o.Labels) == 0 {
		return nil, errors.New("github: source needs API, Launcher, Node and Labels")
	}
	if o.RunnerGroupID == 0 {
		o.RunnerGroupID = DefaultRunnerGroupID
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.EventPoll <= 0 {
		o.EventPoll = 100 * time.Millisecond
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = 30 * time.Second
	}
	if o.OutdatedRecheck <= 0 {
		o.OutdatedRecheck = 30 * time.Minute
	}
	if o.Name == "" {
		o.Name = "github"
	}
	o.Clock = clock.Or(o.Clock)
	log := o.Logger.With("runner", o.Name)
	return &Source{o: o, log: log, outdated: NewOutdatedGate(o.OutdatedRecheck, o.Clock, log)}, nil
}

// Name implements runner.Source.
func (s *Source) Name() string { return s.o.Name }

// Limit implements runner.Source.
func (s *Source) Limit() int { return s.o.Limit }

// Standby implements runner.Standby: Acquire waits with an idle runner
// that cancelling withdraws (its registration deleted, or the job it just
// took returned), so the agent may give its slot to a source that has none.
func (s *Source) Standby() bool { return true }

// namePrefix is what every runner name of this node starts with.
func (s *Source) namePrefix() string { return s.o.NamePrefix + s.o.Node + "-" }

// runnerName is unique per mint: node, slot and a random suffix.
func (s *Source) runnerName(slot runner.Slot) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return s.namePrefix() + strconv.Itoa(slot.Index) + "-" + hex.EncodeToString(b)
}

func (s *Source) cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.o.CleanupTimeout)
}

// Acquire mints a JIT runner for the slot, starts it and waits until
// GitHub hands it a job. When ctx ends first the registration is deleted
// and the container removed — unless GitHub refuses the delete because the
// runner just took a job: then that job is returned and runs to its end.
func (s *Source) Acquire(ctx context.Context, slot runner.Slot) (_ runner.Job, err error) {
	adm, err := s.outdated.Admit(ctx) // no minting while GitHub refuses the image (source_outdated.go)
	if err != nil {
		return nil, err
	}
	defer func() { adm.Done(err) }()
	name := s.runnerName(slot)
	jit, err := s.mint(ctx, name) // mint.go
	if err != nil {
		return nil, err
	}
	log := s.log.With("slot", slot.Index, "github_runner", name, "github_runner_id", jit.RunnerID)
	s.runners().Record(log, name, jit.RunnerID) // journal.go
	lr, err := s.o.Launcher.Launch(ctx, name, jit.Encoded)
	if err != nil {
		cctx, cancel := s.cleanupCtx(ctx)
		defer cancel()
		if derr := s.unregister(cctx, jit.RunnerID); derr != nil {
			log.Warn("deleting the registration of a runner that did not start", "err", derr)
		}
		return nil, err
	}
	log.Debug("idle runner started")
	j := &job{src: s, lr: lr, runnerID: jit.RunnerID, log: log}
	tick := s.o.Clock.NewTimer(s.o.EventPoll)
	defer tick.Stop()
	for {
		select {
		case <-tick.C():
			if !lr.Events().JobStarted.IsZero() {
				return j, nil
			}
			tick.Reset(s.o.EventPoll)
		case <-lr.Done():
			if !lr.Events().JobStarted.IsZero() {
				return j, nil // a short job, done between two polls
			}
			// No hook event (an image without runfleet's hooks, or a hook
			// that failed): GitHub's registration is authoritative.
			if s.tookJob(ctx, log, name) {
				return j, nil
			}
			res, xerr := lr.Result()
			s.retire(ctx, log, lr, jit.RunnerID)
			if v := lr.Refused(); v != "" { // the deferred adm.Done stops minting
				return nil, &RunnerOutdatedError{Image: s.o.Launcher.ImageName(), Version: v}
			}
			return nil, fmt.Errorf("github: runner %s exited before taking a job (exit code %d): %w", name, res.ExitCode, errors.Join(xerr, errExitedIdle))
		case <-ctx.Done():
			cctx, cancel := s.cleanupCtx(ctx)
			derr := s.unregister(cctx, jit.RunnerID)
			cancel()
			if errors.Is(derr, ErrRunnerBusy) {
				log.Info("runner took a job while stopping: letting it run")
				return j, nil
			}
			if derr != nil {
				log.Warn("deleting an idle runner's registration", "err", derr)
			}
			cctx, cancel = s.cleanupCtx(ctx)
			if cerr := lr.Close(cctx); cerr != nil {
				log.Warn("removing an idle runner's container", "err", cerr)
			}
			cancel()
			return nil, ctx.Err()
		}
	}
}

var errExitedIdle = errors.New("runner exited idle")

// tookJob asks GitHub whether the runner named name, whose container
// exited without a job-started hook event, took a job: it did when its
// registration is busy, or gone (a JIT runner is unregistered after its
// one job). When GitHub cannot tell, the runner counts as idle.
func (s *Source) tookJob(ctx context.Context, log *slog.Logger, name string) bool {
	cctx, cancel := s.cleanupCtx(ctx)
	defer cancel()
	rs, err := s.o.API.ListRunners(cctx, name)
	if err != nil {
		log.Warn("asking GitHub whether an exited runner took a job", "err", err)
		return false
	}
	for _, r := range rs {
		if r.Name == name {
			return r.Busy
		}
	}
	log.Info("runner exited without hook events but its registration is gone: it ran a job")
	return true
}

// retire removes a runner's container and registration (404 is fine: JIT
// runners unregister themselves after their job).
func (s *Source) retire(ctx context.Context, log *slog.Logger, lr *LaunchedRunner, id int64) {
	cctx, cancel := s.cleanupCtx(ctx)
	defer cancel()
	if err := lr.Close(cctx); err != nil {
		log.Warn("removing a runner container", "err", err)
	}
	if err := s.unregister(cctx, id); err != nil {
		log.Warn("deleting a runner registration", "err", err)
	}
}

// removeNamed deletes the registration named name, if GitHub has one.
func (s *Source) removeNamed(ctx context.Context, name string) {
	cctx, cancel := s.cleanupCtx(ctx)
	defer cancel()
	rs, err := s.o.API.ListRunners(cctx, name)
	if err != nil {
		s.log.Warn("looking for the registration of a runner whose minting was cancelled", "github_runner", name, "err", err)
		return
	}
	for _, r := range rs {
		if r.Name == name {
			if err := s.o.API.DeleteRunner(cctx, r.ID); err != nil {
				s.log.Warn("deleting the registration of a runner whose minting was cancelled", "github_runner", name, "err", err)
			}
		}
	}
}

// RemoveStale deletes this node's registrations that are not busy (what
// a previous agent or a crash left, or idle runners at shutdown), once the
// mints of cancelled slots still in flight have been answered. Busy ones
// are left alone: GitHub's refusal is authoritative.
func (s *Source) RemoveStale(ctx context.Context) error {
	if err := s.settleMints(ctx); err != nil {
		return fmt.Errorf("github: waiting for the mints of cancelled slots: %w", err)
	}
	rs, err := s.o.API.ListRunners(ctx, "")
	if err != nil {
		return fmt.Errorf("github: listing runners to remove stale ones: %w", err)
	}
	var errs []error
	for _, r := range rs {
		if !strings.HasPrefix(r.Name, s.namePrefix()) {
			continue
		}
		if r.Busy {
			s.log.Info("leaving a busy runner of this node registered", "github_runner", r.Name)
			continue
		}
		err := s.unregister(ctx, r.ID)
		switch {
		case errors.Is(err, ErrRunnerBusy):
			s.log.Info("leaving a busy runner of this node registered", "github_runner", r.Name)
		case err != nil:
			errs = append(errs, err)
		default:
			s.log.Info("removed a stale runner registration of this node", "github_runner", r.Name, "status", r.Status)
		}
	}
	return errors.Join(errs...)
}

// job is a runner that took a job; Run waits for its container to exit.
type job struct {
	src      *Source
	lr       *LaunchedRunner
	runnerID int64
	log      *slog.Logger
	// closeLater is set when Run left the exited runner's container to
	// Cleanup.
	closeLater bool
}

var _ runner.Cleaner = (*job)(nil)

// ID implements runner.Job: the runner's name (GitHub does not tell the
// runner's host which job it took).
func (j *job) ID() string { return j.lr.Name() }

// Run waits for the runner to finish its job, then removes the
// registration; the exited runner's container goes in Cleanup, off the
// slot. Cancelling ctx (shutdown timeout) kills the runner with its
// container before its registration is removed: GitHub then fails the
// job.
func (j *job) Run(ctx context.Context) runner.Outcome {
	var out runner.Outcome
	exited := false
	select {
	case <-j.lr.Done():
		out = j.outcome(ctx)
		exited = true
	case <-ctx.Done():
		out.State, out.FailureReason = "canceled", "runner_system_failure"
	}
	ev := j.lr.Events()
	if !ev.JobStarted.IsZero() && !ev.JobCompleted.IsZero() {
		j.log.Info("job hooks", "job_duration", ev.JobCompleted.Sub(ev.JobStarted).Round(time.Millisecond))
	}
	if !exited {
		j.src.retire(ctx, j.log, j.lr, j.runnerID)
		return out
	}
	// The registration goes before the slot is free (the node's runners
	// count against its slots on GitHub and the fleet); the journal record
	// goes with it: should the agent die before Cleanup, the next start's
	// reap removes the container by the node's label.
	cctx, cancel := j.src.cleanupCtx(ctx)
	defer cancel()
	if err := j.src.unregister(cctx, j.runnerID); err != nil {
		j.log.Warn("deleting a runner registration", "err", err)
	}
	j.closeLater = true
	return out
}

// Cleanup removes the container of a runner that exited by itself, once
// Run returned (runner.Cleaner).
func (j *job) Cleanup(ctx context.Context) error {
	if !j.closeLater {
		return nil
	}
	j.closeLater = false
	if err := j.lr.Close(ctx); err != nil {
		return fmt.Errorf("github: removing the runner container: %w", err)
	}
	return nil
}
