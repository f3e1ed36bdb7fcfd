package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	actions "github.com/actions/scaleset"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/scaleset"
	"github.com/runfleet/runfleet/runner/journal"
)

// scaleSetClient builds the scale-set client of a [[github_scale_set]]
// table (GitHub App or personal access token), every call of which waits
// at rg, the agent's rate-limit gate for the credential.
func scaleSetClient(s config.GitHubScaleSet, rg *scaleset.RateGate, logger *slog.Logger) (*actions.Client, error) {
	info := actions.SystemInfo{System: "runfleet", Version: version, Subsystem: "agent"}
	opts := append([]actions.HTTPOption{actions.WithLogger(logger.With("github_scale_set", s.ScaleSet))}, rg.HTTPOption()...)
	if s.AppID != 0 {
		key, err := os.ReadFile(s.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("private key: %w", err)
		}
		return actions.NewClientWithGitHubApp(actions.ClientWithGitHubAppConfig{
			GitHubConfigURL: s.URL.String(), SystemInfo: info,
			GitHubAppAuth: actions.GitHubAppAuth{ClientID: strconv.FormatInt(s.AppID, 10), InstallationID: s.InstallationID, PrivateKey: string(key)},
		}, opts...)
	}
	return actions.NewClientWithPersonalAccessToken(actions.NewClientWithPersonalAccessTokenConfig{
		GitHubConfigURL: s.URL.String(), PersonalAccessToken: s.Token, SystemInfo: info,
	}, opts...)
}

// scaleSetListeners builds a listener per [[github_scale_set]] table. Each
// is a source of the agent's slot loop (limit, default concurrent),
// launching its runners in containers of the engines' shared executors
// (docker or containerd). Their calls wait at the rate-limit gate label
// mode uses (one pause per App or token across the agent), and their
// runners are journaled in jr until their registrations are gone.
func scaleSetListeners(ctx context.Context, cfg *config.Config, engs *engines, reg prometheus.Registerer, budgets *github.MintBudgets, jr *journal.Journal, logger *slog.Logger) ([]*scaleset.Listener, error) {
	var ls []*scaleset.Listener
	for _, s := range cfg.GitHubScaleSets {
		if s.FromFleet() {
			continue // a label-mode source on the fleet's scale-set JIT configs (githubTables)
		}
		rg := &scaleset.RateGate{Gate: budgets.RateGate(), Key: github.GateKey(s.URL.Host, s.AppID, s.Token)}
		client, err := scaleSetClient(s, rg, logger)
		if err != nil {
			return nil, fmt.Errorf("github_scale_set %s: %w", s.ScaleSet, err)
		}
		ex, err := engs.get(ctx, githubRunner(s.GitHub)) // engines.go
		if err != nil {
			return nil, fmt.Errorf("github_scale_set %s: %w", s.ScaleSet, err)
		}
		state := filepath.Join(s.StateDir, "scaleset-"+s.ScaleSet)
		if err := os.RemoveAll(state); err != nil {
			return nil, fmt.Errorf("github_scale_set %s: state dir: %w", s.ScaleSet, err)
		}
		slots := s.Limit
		if slots == 0 {
			slots = cfg.Concurrent
		}
		l, err := scaleset.New(scaleset.Options{
			Config: scaleset.Config{
				Name: s.ScaleSet, Labels: s.Labels, RunnerGroup: s.RunnerGroup,
				MinIdle: s.MinIdle, Max: s.MaxRunners, Owner: cfg.Node, Slots: slots,
			},
			API: client,
			Launcher: scaleset.ContainerLauncher{Launcher: &github.RunnerLauncher{
				Executor: ex, Node: cfg.Node, Image: s.RunnerImage, PullPolicy: executors.PullPolicy(s.PullPolicy),
				Resources:    executors.Resources{NanoCPUs: s.NanoCPUs, Memory: s.Memory, PidsLimit: s.PidsLimit},
				ToolCacheDir: s.ToolCacheDir, ToolCacheWritable: s.ToolCacheWritable, StateDir: state, Logger: logger,
				Output: func(name string) io.Writer { return runnerLog{logger.With("github_runner", name)} },
			}},
			Logger: logger, Registerer: reg, RateGate: rg, Journal: jr,
			// One JIT budget per App, shared with label mode.
			MintBudget: budgets.For(github.BudgetKey(s.URL.Host, s.AppID, s.Token), s.JITPerMinute),
		})
		if err != nil {
			return nil, fmt.Errorf("github_scale_set %s: %w", s.ScaleSet, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// startScaleSets runs the listeners (their sessions) until ctx ends or
// stop is called; stop returns once every listener has stopped.
func startScaleSets(ctx context.Context, ls []*scaleset.Listener, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() {
			if err := l.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				logger.Error("github scale set listener stopped", "err", err)
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
