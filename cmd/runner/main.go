package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
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
		fmt.Fprintln(os.Stderr, "runner:", err)
		os.Exit(1)
	}
}

// globalFlags are shared by every subcommand.
type globalFlags struct {
	config   string
	logLevel string
	logJSON  bool
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "runner",
		Short:         "runfleet node agent: runs CI jobs in isolated containers",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&g.config, "config", "c", defaultConfigPath(), "config file (env RUNFLEET_CONFIG)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (default from config, else info)")
	root.PersistentFlags().BoolVar(&g.logJSON, "log-json", false, "log as JSON")
	root.AddCommand(newRegisterCmd(g), newRunCmd(g), newExecCmd(g), newVerifyCmd(g), newUnregisterCmd(g), newListCmd(g),
		newGitHubCmd(g),      // github_check.go
		newHelperImageCmd(g)) // helperimage_cmd.go
	return root
}

// defaultConfigPath is /etc/runfleet/config.toml for root and
// ~/.runfleet/config.toml otherwise, unless RUNFLEET_CONFIG is set.
func defaultConfigPath() string {
	if p := os.Getenv("RUNFLEET_CONFIG"); p != "" {
		return p
	}
	if os.Geteuid() == 0 {
		return "/etc/runfleet/config.toml"
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "config.toml"
	}
	return filepath.Join(home, ".runfleet", "config.toml")
}

func newLogger(level string, json bool) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "error", "fatal", "panic": // gitlab-runner's log_level values too
		l = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: l}
	if json {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func systemIDPath(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), ".runner_system_id")
}
