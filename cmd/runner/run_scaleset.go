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
)

// scaleSetClient builds the scale-set client of a [[github_scale_set]]
// table (GitHub App or personal access token).
func scaleSetClient(s config.GitHubScaleSet, logger *slog.Logger) (*actions.Client, error) {
	info := actions.SystemInfo{System: "runfleet", Version: version, Subsystem: "agent"}
	opts := []actions.HTTPOption{actions.WithLogger(logger.With("github_scale_set", s.ScaleSet))}
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

// scaleSetListeners builds a listener per [[github_scale_set]] table, each
// launching runners for this node's slots (limit, default concurrent; and
// always within the agent's shared concurrent slots and cordon, gate) in
// containers of its own executor (docker or containerd, executor.go).
// closeAll releases the executors.
func scaleSetListeners(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, gate scaleset.Gate, budgets *github.MintBudgets, logger *slog.Logger) (ls []*scaleset.Listener, closeAll func(), err error) {
	var closers []func() error
	closeAll = func() {
		for _, c := range closers {
			_ = c()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	for _, s := range cfg.GitHubScaleSets {
		client, err := scaleSetClient(s, logger)
		if err != nil {
			return nil, closeAll, fmt.Errorf("github_scale_set %s: %w", s.ScaleSet, err)
		}
		ex, err := githubExecutor(s.GitHub, cfg.Node, logger) // executor.go
		if err != nil {
			return nil, closeAll, fmt.Errorf("github_scale_set %s: %w", s.ScaleSet, err)
		}
		closers = append(closers, ex.Close)
		if err := ex.Reap(ctx); err != nil {
			return nil, closeAll, fmt.Errorf("github_scale_set %s: reaping leftovers: %w", s.ScaleSet, err)
		}
		state := filepath.Join(s.StateDir, "scaleset-"+s.ScaleSet)
		if err := os.RemoveAll(state); err != nil {
			return nil, closeAll, fmt.Errorf("github_scale_set %s: state dir: %w", s.ScaleSet, err)
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
				ToolCacheDir: s.ToolCacheDir, StateDir: state, Logger: logger,
				Output: func(name string) io.Writer { return runnerLog{logger.With("github_runner", name)} },
			}},
			Gate: gate, Logger: logger, Registerer: reg,
			// One JIT budget per App, shared with label mode.
			MintBudget: budgets.For(github.BudgetKey(s.URL.Host, s.AppID, s.Token), s.JITPerMinute),
		})
		if err != nil {
			return nil, closeAll, fmt.Errorf("github_scale_set %s: %w", s.ScaleSet, err)
		}
		ls = append(ls, l)
	}
	return ls, closeAll, nil
}

// startScaleSets runs the listeners until ctx ends or stop is called;
// stop returns once every listener has stopped its runners.
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
