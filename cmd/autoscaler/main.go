// Command autoscaler is runfleet's fleet control plane: `autoscaler run`
// serves the fleet API to node agents and scales node pools on the real
// queue and on spot capacity; `autoscaler status` prints the fleet;
// `autoscaler simulate` replays a job trace through the same policy.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "autoscaler:", err)
		os.Exit(1)
	}
}

// globalFlags are shared by every subcommand.
type globalFlags struct {
	logLevel string
	logJSON  bool
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "autoscaler",
		Short:         "runfleet control plane: scales runner nodes on the real queue and on spot capacity",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "debug, info, warn or error")
	root.PersistentFlags().BoolVar(&g.logJSON, "log-json", false, "log as JSON")
	// Subcommands, one file each: run.go, status.go, simulate.go, admin.go (cordon, drain).
	root.AddCommand(newSimulateCmd(), newRunCmd(g), newStatusCmd(), newCordonCmd(), newDrainCmd())
	return root
}

func newLogger(level string, json bool) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: l}
	if json {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
