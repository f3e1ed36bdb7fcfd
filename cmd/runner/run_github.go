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
	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/fleet"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/journal"
)

// githubClient builds the REST client of a [[github]] table.
// budgets, when set, shares one JIT minting budget per credential.
func githubClient(g config.GitHub, logger *slog.Logger, budgets *github.MintBudgets) (*github.Client, error) {
	if g.FromFleet() {
		return nil, fmt.Errorf(`github %s: credentials = "fleet": the control plane holds the GitHub credentials`, g.Name)
	}
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

// githubSourceAPI builds g's runner API and resolves its runner group:
// the REST client with the table's own credentials, or, with credentials
// = "fleet", the fleet API, where the control plane mints and answers for
// this node's runners (the runner group is then the control plane's
// choice).
func githubSourceAPI(ctx context.Context, cfg *config.Config, g config.GitHub, budgets *github.MintBudgets, nodeTok *fleet.NodeToken, logger *slog.Logger) (github.RunnerAPI, int64, error) {
	if g.FromFleet() {
		fl := cfg.Fleet
		hc, err := fleet.NewHTTPClient(fl.CAFile, fl.ClientCertFile, fl.ClientKeyFile)
		if err != nil {
			return nil, 0, err
		}
		api, err := fleet.NewGitHub(fleet.GitHubOptions{URL: fl.URL.String(), Token: nodeTok, HTTPClient: hc, Gate: budgets.RateGate(), Logger: logger,
			ScaleSet: g.ScaleSet})
		return api, 0, err
	}
	client, err := githubClient(g, logger, budgets)
	if err != nil {
		return nil, 0, err
	}
	group, err := client.RunnerGroupID(ctx, g.RunnerGroup)
	return client, group, err
}

// githubSources builds the label-mode sources of cfg's [[github]] tables
// on the engines' shared executors and removes the stale registrations a
// previous agent of this node left (for tables with the fleet's
// credentials once the node has registered: removeStaleFleetGitHub).
func githubSources(ctx context.Context, clk clock.Clock, cfg *config.Config, engs *engines, budgets *github.MintBudgets, nodeTok *fleet.NodeToken, jr *journal.Journal, logger *slog.Logger) ([]*github.Source, error) {
	var srcs []*github.Source
	for _, g := range githubTables(cfg) {
		client, group, err := githubSourceAPI(ctx, cfg, g, budgets, nodeTok, logger)
		if err != nil {
			return nil, fmt.Errorf("github %s: %w", g.Name, err)
		}
		ex, err := engs.get(ctx, githubRunner(g)) // engines.go
		if err != nil {
			return nil, fmt.Errorf("github %s: %w", g.Name, err)
		}
		state := filepath.Join(g.StateDir, g.Name)
		if g.ScaleSet != "" {
			state = filepath.Join(g.StateDir, "scaleset-"+g.ScaleSet) // as the agent's own scale sets
		}
		if err := os.RemoveAll(state); err != nil {
			return nil, fmt.Errorf("github %s: state dir: %w", g.Name, err)
		}
		src, err := github.NewSource(github.SourceOptions{
			Clock: clk,
			Name:  g.Name, API: client, Node: cfg.Node, NamePrefix: g.NamePrefix, Labels: g.Labels,
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
		srcs = append(srcs, src)
		if g.FromFleet() {
			continue // the fleet API answers once the node has registered
		}
		logger.Info("removing stale GitHub runner registrations of this node", "github", g)
		if err := src.RemoveStale(ctx); err != nil {
			return nil, fmt.Errorf("github %s: %w", g.Name, err)
		}
	}
	return srcs, nil
}

// removeStaleFleetGitHub removes the stale registrations of the sources
// with the fleet's credentials, once the node has registered (run it after
// the fleet client started). The control plane deletes a node's idle
// runners when it registers again; this covers an agent restart that kept
// its node token. Failures are logged: the slots retry their mints.
func removeStaleFleetGitHub(ctx context.Context, cfg *config.Config, srcs []*github.Source, logger *slog.Logger) {
	for i, g := range githubTables(cfg) {
		if !g.FromFleet() {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		logger.Info("removing stale GitHub runner registrations of this node through the fleet", "github", g)
		if err := srcs[i].RemoveStale(cctx); err != nil {
			logger.Warn("removing stale GitHub runner registrations through the fleet", "github", g.Name, "err", err)
		}
		cancel()
	}
}

// githubTables are the tables label mode's github.Source runs: every
// [[github]] table, and every [[github_scale_set]] table with the fleet's
// credentials (the control plane holds the scale set's session; a runner
// with a JIT config needs nothing else from the node, so its jobs take the
// one path label mode's do).
func githubTables(cfg *config.Config) []config.GitHub {
	out := append([]config.GitHub(nil), cfg.GitHub...)
	for _, s := range cfg.GitHubScaleSets {
		if s.FromFleet() {
			out = append(out, s.GitHub)
		}
	}
	return out
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
