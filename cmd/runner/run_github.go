package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/journal"
)

// githubClient builds the REST client of a [[github]] table.
// budgets, when set, shares one JIT minting budget per credential.
func githubClient(g config.GitHub, logger *slog.Logger, budgets *github.MintBudgets) (*github.Client, error) {
	auth := github.Auth{AppID: g.AppID, InstallationID: g.InstallationID, Token: g.Token}
	if g.PrivateKeyFile != "" {
		key, err := os.ReadFile(g.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("github %s: private key: %w", g.Name, err)
		}
		auth.PrivateKey = key
	}
	o := github.ClientOptions{
		URL: g.URL.String(), Auth: auth, UserAgent: "runfleet/" + version, Logger: logger, JITPerMinute: g.JITPerMinute,
	}
	if budgets != nil {
		o.JITBudget = budgets.For(github.BudgetKey(g.URL.Host, g.AppID, g.Token), g.JITPerMinute)
		o.RateGate = budgets.RateGate() // one pause per App or token across the agent
	}
	return github.NewClient(o)
}

// githubSources builds the label-mode sources of cfg's [[github]] tables
// on the engines' shared executors and removes the stale registrations a
// previous agent of this node left.
func githubSources(ctx context.Context, cfg *config.Config, engs *engines, budgets *github.MintBudgets, jr *journal.Journal, logger *slog.Logger) ([]*github.Source, error) {
	var srcs []*github.Source
	for _, g := range cfg.GitHub {
		client, err := githubClient(g, logger, budgets)
		if err != nil {
			return nil, fmt.Errorf("github %s: %w", g.Name, err)
		}
		group, err := client.RunnerGroupID(ctx, g.RunnerGroup)
		if err != nil {
			return nil, fmt.Errorf("github %s: %w", g.Name, err)
		}
		ex, err := engs.get(ctx, githubRunner(g)) // engines.go
		if err != nil {
			return nil, fmt.Errorf("github %s: %w", g.Name, err)
		}
		state := filepath.Join(g.StateDir, g.Name)
		if err := os.RemoveAll(state); err != nil {
			return nil, fmt.Errorf("github %s: state dir: %w", g.Name, err)
		}
		src, err := github.NewSource(github.SourceOptions{
			Name: g.Name, API: client, Node: cfg.Node, NamePrefix: g.NamePrefix, Labels: g.Labels,
			RunnerGroupID: group, Limit: g.Limit, Logger: logger, Journal: jr,
			Launcher: &github.RunnerLauncher{
				Executor: ex, Node: cfg.Node, Image: g.RunnerImage, PullPolicy: executors.PullPolicy(g.PullPolicy),
				Resources:    executors.Resources{NanoCPUs: g.NanoCPUs, Memory: g.Memory, PidsLimit: g.PidsLimit},
				ToolCacheDir: g.ToolCacheDir, ToolCacheWritable: g.ToolCacheWritable, StateDir: state, Logger: logger,
				Output: func(name string) io.Writer { return runnerLog{logger.With("github_runner", name)} },
			},
		})
		if err != nil {
			return nil, fmt.Errorf("github %s: %w", g.Name, err)
		}
		logger.Info("removing stale GitHub runner registrations of this node", "github", g)
		if err := src.RemoveStale(ctx); err != nil {
			return nil, fmt.Errorf("github %s: %w", g.Name, err)
		}
		srcs = append(srcs, src)
	}
	return srcs, nil
}

// removeStaleGitHub runs at shutdown, after every slot has stopped.
func removeStaleGitHub(ctx context.Context, srcs []*github.Source, logger *slog.Logger) {
	for _, s := range srcs {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		if err := s.RemoveStale(cctx); err != nil {
			logger.Warn("removing this node's GitHub runner registrations at shutdown", "runner", s.Name(), "err", err)
		}
		cancel()
	}
}

// runnerLog logs a runner's output line by line at debug level.
type runnerLog struct{ log *slog.Logger }

func (r runnerLog) Write(p []byte) (int, error) {
	r.log.Debug("runner output", "text", string(p))
	return len(p), nil
}
