package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/gitlab"
)

// newHelperImageCmd is 'runner helper-image': the agent's own builder of
// the default sources helper image, run ahead of time (a machine image
// bake, the test suites' images). 'runner run' builds it the same way on
// an engine that lacks it.
func newHelperImageCmd(g *globalFlags) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "helper-image [--force]",
		Short: "Build the default sources helper image into the engines of this node's GitLab runners",
		Long: `Builds ` + gitlab.DefaultHelperImage + ` (git and a shell, taken from this host) into the
engine of every GitLab runner of the config that uses the default helper_image, or into
the local Docker engine when there is no config. An engine that already holds the image
is left alone unless --force is given. 'runner run' does the same at start; bake the
image ahead with this command to take that step off a node's first job.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := newLogger(g.logLevel, g.logJSON)
			runners, node, err := helperImageRunners(g, logger)
			if err != nil {
				return err
			}
			done := map[string]bool{}
			for _, r := range runners {
				key := executorKey(r)
				if !defaultHelper(r) || done[key] {
					continue
				}
				done[key] = true
				ex, err := newExecutor(r, node, logger, 0, nil)
				if err != nil {
					return err
				}
				built, err := ensureHelperImage(cmd.Context(), ex, force, logger)
				ex.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", key, err)
				}
				state := "already present"
				if built {
					state = "built"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s %s\n", key, gitlab.DefaultHelperImage, state)
			}
			if len(done) == 0 {
				return fmt.Errorf("no GitLab runner of %s uses the default helper image %s", g.config, gitlab.DefaultHelperImage)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "rebuild even where the engine holds the image")
	return cmd
}

// helperImageRunners are the config's GitLab runners, or the local
// default runner (execRunner) when there is no config.
func helperImageRunners(g *globalFlags, logger *slog.Logger) ([]config.Runner, string, error) {
	cfg, err := config.LoadLocal(g.config, os.LookupEnv)
	if err == nil {
		config.LogWarnings(logger, cfg.Warnings)
		return cfg.Runners, cfg.Node, nil
	}
	if !isNotExist(err) {
		return nil, "", err
	}
	r, node, err := execRunner(g, logger)
	if err != nil {
		return nil, "", err
	}
	return []config.Runner{r}, node, nil
}
