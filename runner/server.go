package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/runfleet/runfleet/autoscaler/fleetapi/serve"
)

// maxConns caps the metrics and health server's open connections (a
// scraper, a health checker, an operator).
const maxConns = 32

// Serve answers /metrics (from gatherer) and /healthz on addr until ctx is
// done. ready reports whether the agent can take work; /healthz answers 503
// with the reason when it cannot.
func Serve(ctx context.Context, addr string, gatherer prometheus.Gatherer, ready func() error, logger *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	// Timeouts, a header size limit and a connection cap (serve).
	ln, err := serve.Listen(addr, maxConns, nil)
	if err != nil {
		return fmt.Errorf("listen_address %s: %w", addr, err)
	}
	srv := serve.Server(mux, logger)
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	defer stop()
	logger.Info("serving metrics and health", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics server: %w", err)
	}
	return nil
}
