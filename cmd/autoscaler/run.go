package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/controlplane/sqlitestore"
	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve"
)

// adminMaxConnections caps the admin listener's connections (operators,
// a Prometheus scraper).
const adminMaxConnections = 64

func newRunCmd(g *globalFlags) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the control plane: serve the fleet API and scale node pools until SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(path)
			if err != nil {
				return err
			}
			return runControlPlane(cmd.Context(), c, newLogger(g.logLevel, g.logJSON))
		},
	}
	cmd.Flags().StringVar(&path, "config", "/etc/runfleet/autoscaler.toml", "control plane config file (TOML)")
	return cmd
}

func runControlPlane(ctx context.Context, c *config, logger *slog.Logger) error {
	st, err := sqlitestore.Open(ctx, c.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	prov, closeProv, err := newProvider(ctx, c, logger)
	if err != nil {
		return err
	}
	defer closeProv()
	var demand []controlplane.Demand
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The live signals feed one forecaster, the one the simulator plans
	// with (forecast.go).
	fc := newLiveForecast()
	hooks := map[string]http.Handler{} // webhook path → handler, on the fleet listener
	var watchers []func(context.Context)
	for _, g := range c.GitLab {
		src, hook, start, err := newGitLabDemand(g, fc, reg, logger)
		if err != nil {
			return err
		}
		demand = append(demand, src)
		watchers = append(watchers, start)
		if hook != nil {
			hooks[g.HookPath] = hook
		}
	}
	var ghHook http.Handler
	ghReconcile := func(context.Context) {}
	if c.GitHub != nil {
		rc, start, err := newGitHubDemand(c.GitHub, fc, reg, logger)
		if err != nil {
			return err
		}
		demand = append(demand, rc)
		ghHook, ghReconcile = rc, start
	}
	var jit *controlplane.GitHubJITOptions
	if c.GitHubJIT != nil {
		if jit, err = newGitHubJIT(ctx, c.GitHubJIT, logger); err != nil { // githubjit.go
			return err
		}
	}
	cp, err := controlplane.New(ctx, controlplane.Options{
		Store: st, Provider: prov, Demand: demand, Pools: c.Pools, Policy: c.Policy,
		JoinToken: c.JoinToken, FleetURL: c.FleetURL, HeartbeatInterval: c.HeartbeatInterval,
		HeartbeatGrace: c.HeartbeatGrace, BootTimeout: c.BootTimeout, ReconcileInterval: c.ReconcileInterval,
		AdminToken: c.AdminToken, DrainTimeout: c.DrainTimeout, DrainHardLimit: c.DrainHardLimit,
		Logger: logger, Registry: reg, Forecaster: fc, GitHubJIT: jit,
	})
	if err != nil {
		return err
	}
	fc.ReportStarts(cp)
	// Every listener: timeouts, a header size limit, a connection cap,
	// and TLS when [tls] is set (off-loopback it must be).
	fleetLn, err := serve.Listen(c.ListenAddress, c.MaxConnections, c.FleetTLS)
	if err != nil {
		return fmt.Errorf("listen_address: %w", err)
	}
	adminLn, err := serve.Listen(c.AdminAddress, adminMaxConnections, c.AdminTLS)
	if err != nil {
		fleetLn.Close()
		return fmt.Errorf("admin_address: %w", err)
	}
	fleetHandler := cp.Handler()
	if ghHook != nil {
		hooks[c.GitHub.Path] = ghHook
	}
	if len(hooks) > 0 {
		// The webhooks share the fleet API's listener (the address GitHub
		// and GitLab can reach); they authenticate deliveries by
		// signature (GitHub) or secret token (GitLab).
		mux := http.NewServeMux()
		mux.Handle("/", fleetHandler)
		for path, h := range hooks {
			mux.Handle("POST "+path, h)
		}
		fleetHandler = mux
	}
	servers := []*http.Server{serve.Server(fleetHandler, logger), serve.Server(cp.AdminHandler(reg), logger)}
	for _, addr := range c.Plaintext {
		logger.Warn("INSECURE: serving clear text off loopback (insecure_plaintext = true): join and node tokens cross the network unencrypted; set [tls]",
			"addr", addr)
	}
	mtls := c.FleetTLS != nil && c.FleetTLS.ClientAuth == tls.RequireAndVerifyClientCert
	logger.Info("control plane started", "fleet", c.Fleet, "fleet_api", fleetLn.Addr().String(),
		"admin", adminLn.Addr().String(), "tls", c.FleetTLS != nil, "mtls", mtls, "provider", c.Provider.Type, "pools", len(c.Pools), "store", c.Store)
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	for i, ln := range []net.Listener{fleetLn, adminLn} {
		srv := servers[i]
		wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		})
	}
	runCtx, stop := context.WithCancel(ctx)
	wg.Go(func() { _ = cp.Run(runCtx) })
	wg.Go(func() { ghReconcile(runCtx) })
	for _, watch := range watchers {
		wg.Go(func() { watch(runCtx) })
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	stop()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	wg.Wait()
	logger.Info("control plane stopped")
	return err
}
