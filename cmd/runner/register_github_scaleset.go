package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/scaleset"
	"github.com/runfleet/runfleet/runner/ratelimit"
)

// registerScaleSet checks the credentials and the runner group against
// the scale-set service and appends a [[github_scale_set]] table (mode
// 0600). A failed check leaves the config untouched. The scale set itself
// is created (or reused) by the agent when it starts.
func registerScaleSet(cmd *cobra.Command, g *globalFlags, gf *githubRegisterFlags, gfile config.GitHubFile) error {
	if gfile.Name == "github" {
		gfile.Name = "" // defaults to the scale set's name
	}
	if !cmd.Flags().Changed("labels") {
		gfile.Labels = nil // a scale set is targeted by its name
	}
	sf := config.GitHubScaleSetFile{GitHubFile: gfile, ScaleSet: gf.scaleSet, MinIdle: gf.minIdle, MaxRunners: gf.maxRunners}
	ss, err := config.ValidateGitHubScaleSet(sf)
	if err != nil {
		return err
	}
	logger := newLogger(g.logLevel, g.logJSON)
	rg := &scaleset.RateGate{Gate: ratelimit.New(ratelimit.Options{Logger: logger}), Key: github.GateKey(ss.URL.Host, ss.AppID, ss.Token)}
	client, err := scaleSetClient(ss, rg, logger)
	if err != nil {
		return fmt.Errorf("github_scale_set %s: %w", ss.ScaleSet, err)
	}
	group := ss.RunnerGroup
	if group == "" {
		group = "default"
	}
	// Resolving the runner group authenticates (registration token, then
	// the Actions service) and checks the group in one go.
	if _, err := client.GetRunnerGroupByName(cmd.Context(), group); err != nil {
		return fmt.Errorf("checking the credentials and runner group %q with %s failed (config untouched): %w", group, ss.URL, err)
	}
	if err := config.AppendGitHubScaleSet(g.config, sf); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "GitHub scale set %q registered for %s (%s, max %d runners); config: %s\n",
		ss.ScaleSet, ss.URL, authKind(gfile), ss.MaxRunners, g.config)
	return nil
}
