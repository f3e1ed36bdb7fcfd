package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/scaleset"
	"github.com/runfleet/runfleet/runner/gitlab"
	"github.com/runfleet/runfleet/runner/journal"
)

// journalDir is where the agent records the jobs it runs: next to the
// config, like the system id.
func journalDir(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), "journal")
}

// recoverRunner is what reporting a GitLab runner's jobs needs.
type recoverRunner struct {
	client *gitlab.Client
	token  string
	info   gitlab.VersionInfo
}

// recoverTimeout bounds the report of one job left by a killed agent.
const recoverTimeout = 50 * time.Second

// busyRetry is how often the registration of a GitHub runner that GitHub
// still counts busy is tried again.
const busyRetry = 30 * time.Second

// recoverJobs runs at start, before polling, for every job a previous
// agent on this node left unfinished; the executors have reaped the jobs'
// containers, networks and volumes already (engines.go). A GitLab job is
// reported failed with runner_system_failure after a closing log line; a
// GitHub runner's registration is removed (GitHub fails its job itself
// once the runner stops answering). A record is deleted only once the
// platform acknowledged; one that could not be handled stays for the next
// start, and GitHub registrations are removed through background, which
// runs each removal in a goroutine its caller owns and waits for, with the
// context that bounds it (retried while GitHub counts the runner busy);
// nil runs them in turn with ctx. It reports whether the previous agent
// left any job.
func recoverJobs(ctx context.Context, clk clock.Clock, jr *journal.Journal, runners map[string]recoverRunner, gh map[recoverKey]githubRecoverer,
	background func(func(context.Context)), logger *slog.Logger) bool {
	if background == nil {
		background = func(f func(context.Context)) { f(ctx) }
	}
	entries, err := jr.Pending()
	if err != nil {
		logger.Error("reading the job journal", "dir", jr.Dir(), "err", err)
	}
	if len(entries) == 0 {
		return false
	}
	logger.Warn("the previous agent left jobs unfinished: reporting them", "jobs", len(entries))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, e := range entries {
		log := logger.With("platform", e.Platform, "runner", e.Runner, "job", e.JobID)
		switch e.Platform {
		case journal.PlatformGitLab:
			r, ok := runners[e.Runner]
			if !ok {
				log.Error("journal record of a runner no longer in the config; kept until it is back")
				continue
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				recoverGitLab(ctx, jr, r, e, log)
			})
		case journal.PlatformGitHub, journal.PlatformGitHubScaleSet:
			src, ok := gh[recoverKey{e.Platform, e.Runner}]
			if !ok {
				log.Error("journal record of a [[github]] or [[github_scale_set]] table no longer in the config; kept until it is back")
				continue
			}
			// In the background: polling need not wait for GitHub to
			// notice a busy runner is gone.
			background(func(ctx context.Context) { recoverGitHub(ctx, clk, src, e, log) })
		default:
			log.Error("journal record of an unknown platform; kept")
		}
	}
	wg.Wait() // each GitLab report is bounded by recoverTimeout
	return true
}

// lateReaps are when, after the start, the engines are reaped again when
// the previous agent died mid-job: requests it had sent (a container
// create, a network) can complete after the start-up reap.
var lateReaps = []time.Duration{5 * time.Second, 20 * time.Second}

// reapLate reaps every engine at lateReaps (each Reap leaves the objects
// of live jobs alone).
func reapLate(ctx context.Context, clk clock.Clock, exs []nodeExecutor, logger *slog.Logger) {
	var slept time.Duration
	for _, at := range lateReaps {
		if err := clock.Sleep(ctx, clk, at-slept); err != nil {
			return
		}
		slept = at
		for _, ex := range exs {
			if err := ex.Reap(ctx); err != nil && ctx.Err() == nil {
				logger.Warn("reaping what the previous agent left", "err", err)
			}
		}
	}
}

// recoverGitLab reports one GitLab job and deletes its record.
func recoverGitLab(ctx context.Context, jr *journal.Journal, r recoverRunner, e journal.Entry, log *slog.Logger) {
	spool, err := jr.SpoolBytes(e)
	if err != nil {
		log.Warn("reading the job's spooled log", "err", err)
	}
	rctx, cancel := context.WithTimeout(ctx, recoverTimeout)
	defer cancel()
	err = gitlab.RecoverJob(rctx, gitlab.RecoverOptions{
		Client: r.client, RunnerToken: r.token, Info: &r.info, Logger: log, FinalTimeout: recoverTimeout,
	}, e, spool)
	if err != nil {
		log.Error("reporting a job the previous agent left failed; trying again at the next start", "err", err)
		return
	}
	if err := jr.Done(e); err != nil {
		log.Warn("removing the job's journal record", "err", err)
	}
	log.Warn("reported a job the previous agent left unfinished as failed (runner_system_failure)")
}

// githubRecoverer removes the registration of a GitHub runner a killed
// agent left (a label-mode source or a scale set); its error matches
// github.ErrRunnerBusy while GitHub counts the runner busy.
type githubRecoverer interface {
	Recover(ctx context.Context, e journal.Entry) error
}

// recoverKey names the table a GitHub journal record belongs to.
type recoverKey struct{ platform, name string }

// githubRecoverers maps the GitHub tables by the journal's platform and
// name: label-mode sources ([[github]]) and scale sets.
func githubRecoverers(sources []*github.Source, scaleSets []*scaleset.Listener) map[recoverKey]githubRecoverer {
	out := map[recoverKey]githubRecoverer{}
	for _, s := range sources {
		out[recoverKey{journal.PlatformGitHub, s.Name()}] = s
	}
	for _, l := range scaleSets {
		out[recoverKey{journal.PlatformGitHubScaleSet, l.Name()}] = l
	}
	return out
}

// recoverGitHub removes one GitHub runner's registration (and record),
// retrying while GitHub counts the runner busy.
func recoverGitHub(ctx context.Context, clk clock.Clock, src githubRecoverer, e journal.Entry, log *slog.Logger) {
	for {
		rctx, cancel := context.WithTimeout(ctx, recoverTimeout)
		err := src.Recover(rctx, e)
		cancel()
		switch {
		case err == nil:
			log.Warn("removed the registration of a runner the previous agent left")
			return
		case errors.Is(err, github.ErrRunnerBusy):
			log.Info("GitHub still counts the runner the previous agent left busy; trying again", "in", busyRetry)
		default:
			log.Warn("removing the registration of a runner the previous agent left", "err", err)
		}
		if clock.Sleep(ctx, clk, busyRetry) != nil {
			return
		}
	}
}
