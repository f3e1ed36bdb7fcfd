package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/gitlab"
	"github.com/runfleet/runfleet/runner/gitlab/ciyaml"
)

func newExecCmd(g *globalFlags) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "exec [--file .gitlab-ci.yml] JOB",
		Short: "Run one job of a local .gitlab-ci.yml in a container, without GitLab",
		Long: `Runs one job of a local .gitlab-ci.yml through the same executor, limits and cache
settings as 'runner run' (from the config's first runner, or defaults when there is
no config). The job's sources are the file's directory as it is now. Prints the job
log and exits non-zero when the job fails.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			job, err := ciyaml.Parse(data, args[0])
			if err != nil {
				return err
			}
			logger := newLogger(g.logLevel, g.logJSON)
			r, node, err := execRunner(g, logger)
			if err != nil {
				return err
			}
			ex, err := newExecutor(r, node, logger, 0, nil)
			if err != nil {
				return err
			}
			defer ex.Close()
			store, _, err := newCacheStore(cmd.Context(), clock.Real{}, r, logger)
			if err != nil {
				return fmt.Errorf("cache: %w", err)
			}
			dir, err := filepath.Abs(filepath.Dir(file))
			if err != nil {
				return err
			}
			payload := gitlab.LocalJob(job, dir, time.Now())
			res := gitlab.RunLocal(cmd.Context(), gitlab.BuildSettings{
				Node: node, Runner: r, Executor: ex, Cache: store, Logger: logger, VersionTag: version,
			}, payload, dir, cmd.OutOrStdout())
			if res.State != "success" {
				return fmt.Errorf("job %s failed (%s, exit code %d)", args[0], res.FailureReason, res.ExitCode)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", ".gitlab-ci.yml", "the pipeline file")
	return cmd
}

// execRunner takes the first runner of the config, or defaults (with build
// and cache directories under the user's cache dir) when there is no config.
// No coordinator is involved: the runner needs no url or token.
func execRunner(g *globalFlags, logger *slog.Logger) (config.Runner, string, error) {
	cfg, err := config.LoadLocal(g.config, os.LookupEnv)
	if err == nil {
		config.LogWarnings(logger, cfg.Warnings)
	}
	if err == nil && len(cfg.Runners) > 0 {
		return cfg.Runners[0], cfg.Node, nil
	}
	if err != nil && !isNotExist(err) {
		return config.Runner{}, "", err
	}
	base, uerr := os.UserCacheDir()
	if uerr != nil {
		base = os.TempDir()
	}
	base = filepath.Join(base, "runfleet")
	f := config.File{Runners: []config.RunnerFile{{
		Name: "local", Executor: "docker", BuildsDir: filepath.Join(base, "builds"),
		Cache: &config.CacheFile{Dir: filepath.Join(base, "cache")},
	}}}
	if err := config.ApplyEnv(&f, os.LookupEnv); err != nil {
		return config.Runner{}, "", err
	}
	c, err := config.FromFileLocal(f)
	if err != nil {
		return config.Runner{}, "", err
	}
	return c.Runners[0], c.Node, nil
}
