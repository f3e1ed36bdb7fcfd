package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/cache"
	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/fleet"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/gitlab"
	"github.com/runfleet/runfleet/runner/health"
	"github.com/runfleet/runfleet/runner/interrupt"
	"github.com/runfleet/runfleet/runner/journal"
)

func newRunCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the agent in the foreground: poll GitLab and run jobs until SIGTERM",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), g) },
	}
}

func loadConfig(g *globalFlags) (*config.Config, error) {
	return config.Load(g.config, os.LookupEnv)
}

func run(ctx context.Context, g *globalFlags) error {
	cfg, err := loadConfig(g)
	if isNotExist(err) {
		printFirstRun(os.Stderr, g.config, true) // firstrun.go
		return errFirstRun
	}
	if err != nil {
		return err
	}
	level := g.logLevel
	if level == "" {
		level = cfg.LogLevel
	}
	logger := newLogger(level, g.logJSON || cfg.LogFormat == "json")
	config.LogWarnings(logger, cfg.Warnings) // gitlab-runner settings runfleet does not implement
	for _, s := range cfg.GitHubScaleSets {
		if w := s.NodeCredentialsWarning(cfg.Fleet); w != "" {
			logger.Warn("SECURITY: GitHub credential on a fleet node", "github_scale_set", s.ScaleSet, "warning", w)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := runner.NewMetrics(reg)
	systemID, err := gitlab.LoadOrCreateSystemID(systemIDPath(cfg.Path))
	if err != nil {
		return fmt.Errorf("system id: %w", err)
	}
	if len(cfg.Runners) == 0 && len(cfg.GitHub) == 0 && len(cfg.GitHubScaleSets) == 0 {
		printFirstRun(os.Stderr, cfg.Path, false)
		return errFirstRun
	}

	// clk is the agent's one time source, passed to everything that keeps time.
	clk := clock.Real{}
	var sources []runner.Source
	var rotators []*gitlab.Source
	var sweepers []sweeper   // the runners' source stores (engines.go)
	var warms []*gitlab.Warm // the runners' containers kept warm (gitlab/warm.go)
	warmBudget := gitlab.NewWarmBudget(cfg.Concurrent)
	var stores []*cache.LocalStore
	var watchPaths []string
	// Jobs are journaled before they start; what a killed agent left is
	// reported before polling (recover.go).
	jr, err := journal.Open(journalDir(cfg.Path), journal.WithClock(clk))
	if err != nil {
		return err
	}
	recovery := map[string]recoverRunner{}
	// One executor per engine, shared by every source (engines.go).
	// Networks made ahead of time take ~200 ms off each job's start.
	engs := newEngines(cfg.Node, min(cfg.Concurrent, 4), logger)
	if engs.egress, err = egressPolicy(ctx, cfg, resolveHost); err != nil {
		return err
	}
	defer engs.close()
	for _, r := range cfg.Runners {
		ex, err := engs.forGitLab(ctx, r) // helperimage.go
		if err != nil {
			return fmt.Errorf("runner %s: %w", r.Name, err)
		}
		store, local, err := newCacheStore(ctx, clk, r, logger)
		if err != nil {
			return fmt.Errorf("runner %s: cache: %w", r.Name, err)
		}
		if err := os.MkdirAll(r.BuildsDir, 0o700); err != nil {
			return fmt.Errorf("runner %s: builds_dir: %w", r.Name, err)
		}
		if local != nil {
			stores = append(stores, local)
			watchPaths = append(watchPaths, r.Cache.Dir)
		}
		watchPaths = append(watchPaths, r.BuildsDir)
		tlsConfig, err := r.TLSConfig() // tls-ca-file, tls-cert-file
		if err != nil {
			return fmt.Errorf("runner %s: %w", r.Name, err)
		}
		client, err := gitlab.NewClient(gitlab.ClientOptions{
			BaseURL: r.URL.String(), UserAgent: "runfleet/" + version, Logger: logger, Observer: metrics, TLSConfig: tlsConfig,
		})
		if err != nil {
			return fmt.Errorf("runner %s: %w", r.Name, err)
		}
		srcStores := gitlab.NewSourceStores(r, clk.Now, logger)
		sweepers = append(sweepers, srcStores)
		var warm *gitlab.Warm // nil keeps nothing warm
		if r.WarmContainers {
			warm = gitlab.NewWarm(r, warmBudget, logger)
			warms = append(warms, warm)
		}
		src := gitlab.NewSource(gitlab.SourceOptions{
			Runner: r, Client: client, SystemID: systemID, Info: versionInfo(r.Name),
			Build: gitlab.BuildSettings{
				Node: cfg.Node, Runner: r, Executor: withAllowedImages(ex, r.Docker.AllowedImages), Cache: store, Artifacts: client, Logger: logger, VersionTag: version,
				SourceStores: srcStores, Warm: warm,
			},
			Logger: logger, Journal: jr, Clock: clk,
		})
		sources = append(sources, src)
		rotators = append(rotators, src)
		recovery[r.Name] = recoverRunner{client: client, token: r.Token, info: versionInfo(r.Name)}
	}

	budgets := github.NewMintBudgets()                                                 // JIT minting, one budget per GitHub App or token
	nodeTok := fleet.NewNodeToken()                                                    // [[github]] credentials = "fleet" call with it
	ghSources, err := githubSources(ctx, clk, cfg, engs, budgets, nodeTok, jr, logger) // run_github.go
	if err != nil {
		return err
	}
	for _, s := range ghSources {
		sources = append(sources, s)
	}
	// Scale sets are sources of the one slot loop too.
	scaleSets, err := scaleSetListeners(ctx, cfg, engs, reg, budgets, jr, logger) // run_scaleset.go
	if err != nil {
		return err
	}
	for _, l := range scaleSets {
		sources = append(sources, l)
	}
	agent := runner.NewAgent(runner.AgentOptions{
		Sources: sources, Concurrent: cfg.Concurrent, ShutdownTimeout: cfg.ShutdownTimeout, Logger: logger, Metrics: metrics, Clock: clk,
		CleanupTimeout: cfg.Cleanup.Timeout, CleanupStartHold: cfg.Cleanup.StartHold,
	})
	srvCtx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServer()
	var wg sync.WaitGroup
	var srvErr error
	if cfg.ListenAddress != "" {
		wg.Go(func() {
			srvErr = runner.Serve(srvCtx, cfg.ListenAddress, reg, func() error {
				if ctx.Err() != nil {
					return errors.New("shutting down")
				}
				return nil
			}, logger)
			if srvErr != nil {
				logger.Error("metrics server stopped", "err", srvErr)
			}
		})
	}
	logger.Info("runfleet agent started", "version", version, "node", cfg.Node, "runners", len(sources),
		"concurrent", cfg.Concurrent, "system_id", systemID)
	wg.Go(func() {
		health.Watch(srvCtx, watchPaths, "/proc/meminfo", health.DefaultThresholds, 10*time.Second, agent,
			func(ctx context.Context, condition string) error {
				if condition != health.DiskPressure {
					return nil
				}
				for _, st := range stores {
					logger.Info("disk pressure: shrinking the cache", "dir", st.Dir(), "freed_bytes", st.Shrink(ctx))
				}
				return engs.pruneImages(ctx)
			}, func(err error) { logger.Warn("node health", "err", err) })
	})
	if in := cfg.Interruption; in.Cloud != "" {
		checker, err := interrupt.New(in.Cloud, in.Endpoint, nil, interrupt.WithClock(clk))
		if err != nil {
			return err
		}
		wg.Go(func() {
			interrupt.Watch(srvCtx, checker, in.CheckInterval, func(n interrupt.Notice) {
				onNotice(agent, clk, logger, n)
			}, func(err error) { logger.Debug("checking for interruption notices", "err", err) }, interrupt.WithClock(clk))
		})
	}
	// A fleet node leaves when drained or told to terminate (fleet.go).
	agentCtx, stopAgent := context.WithCancel(ctx)
	defer stopAgent()
	if cfg.Fleet.Enabled() {
		wg.Go(func() { runFleet(srvCtx, cfg, agent, stopAgent, nodeTok, logger) })
		removeStaleFleetGitHub(ctx, cfg, ghSources, logger) // run_github.go
	}
	for _, src := range rotators {
		wg.Go(func() { _ = src.RotateToken(srvCtx, saveToken(cfg.Path)) })
	}
	wg.Go(func() { reapPeriodically(srvCtx, clk, cfg.ReapInterval, engs.all(), logger, sweepers...) })
	start := clk.Now()
	// The listeners outlive the slots: jobs still running during the
	// shutdown grace learn their results from the session.
	stopScaleSets := startScaleSets(context.WithoutCancel(ctx), scaleSets, logger)
	// GitHub registrations a killed agent left are removed in the background,
	// until the server context ends at shutdown.
	background := func(f func(context.Context)) { wg.Go(func() { f(srvCtx) }) }
	if recoverJobs(ctx, clk, jr, recovery, githubRecoverers(ghSources, scaleSets), background, logger) {
		wg.Go(func() { reapLate(srvCtx, clk, engs.all(), logger) })
	}
	err = agent.Run(agentCtx)
	closeWarm(ctx, warms, logger)
	stopScaleSets()
	removeStaleGitHub(ctx, ghSources, logger)
	stopServer()
	wg.Wait()
	logger.Info("runfleet agent stopped", "uptime", clk.Now().Sub(start).Round(time.Second))
	return err
}

// saveToken writes a rotated runner token into the config file (comments
// in the file are not kept by this rewrite).
func saveToken(path string) gitlab.TokenSaver {
	var mu sync.Mutex
	return func(old string, res gitlab.VerifyResult, obtained time.Time) error {
		mu.Lock()
		defer mu.Unlock()
		// Every other key of the file, gitlab-runner's included, is kept.
		return config.SetRunnerToken(path, old, res.Token, obtained, res.TokenExpiresAt)
	}
}

// onNotice reacts to a cloud interruption notice as the spot notes say:
// stop taking jobs at once; on termination let running jobs go on until
// shortly before the node goes, then end them as system failures, which
// GitLab can retry.
func onNotice(agent *runner.Agent, clk clock.Clock, logger *slog.Logger, n interrupt.Notice) {
	logger.Warn("cloud interruption notice", "kind", n.Kind, "cloud", n.Cloud, "at", n.At)
	switch n.Kind {
	case interrupt.Rebalance:
		agent.Cordon("Rebalance")
	case interrupt.Terminate:
		agent.Cordon("Interrupted")
		at := n.At
		if at.IsZero() {
			at = clk.Now().Add(2 * time.Minute)
		}
		// Leave time to report the final states before the node goes.
		agent.AbortJobsAt(at.Add(-15 * time.Second))
	}
}

// closeWarm removes the sources helpers and job containers kept warm for
// the slots' next jobs, once every slot has stopped.
func closeWarm(ctx context.Context, ws []*gitlab.Warm, logger *slog.Logger) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for _, w := range ws {
		if err := w.Close(cctx); err != nil {
			logger.Warn("removing warm containers at shutdown", "err", err)
		}
	}
}
