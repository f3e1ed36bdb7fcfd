package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

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

// recoverJobs reports, at start and before polling, every job a previous
// agent on this node left unfinished: failed with runner_system_failure on
// GitLab, after a closing log line. The executors have reaped the jobs'
// containers, networks and volumes already (engines.go). A record is
// deleted only once GitLab acknowledged; one that could not be reported
// stays for the next start.
func recoverJobs(ctx context.Context, jr *journal.Journal, runners map[string]recoverRunner, logger *slog.Logger) {
	entries, err := jr.Pending()
	if err != nil {
		logger.Error("reading the job journal", "dir", jr.Dir(), "err", err)
	}
	if len(entries) == 0 {
		return
	}
	logger.Warn("the previous agent left jobs unfinished: reporting them failed", "jobs", len(entries))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, e := range entries {
		log := logger.With("platform", e.Platform, "runner", e.Runner, "job", e.JobID)
		if e.Platform != journal.PlatformGitLab {
			log.Error("journal record of a platform this agent does not recover; kept")
			continue
		}
		r, ok := runners[e.Runner]
		if !ok {
			log.Error("journal record of a runner no longer in the config; kept until it is back")
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
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
		})
	}
	wg.Wait()
}
