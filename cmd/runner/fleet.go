package main

import (
	"context"
	"log/slog"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/fleet"
)

// runFleet joins the fleet control plane named in [fleet] and heartbeats
// until ctx ends; stop ends the agent when the node is drained or told to
// terminate.
// The node token reaches nodeTok (the fleet's GitHub client).
func runFleet(ctx context.Context, cfg *config.Config, agent *runner.Agent, stop func(), nodeTok *fleet.NodeToken, logger *slog.Logger) {
	fl := cfg.Fleet
	hc, err := fleet.NewHTTPClient(fl.CAFile, fl.ClientCertFile, fl.ClientKeyFile)
	if err != nil {
		logger.Error("fleet", "err", err)
		return
	}
	var id fleet.IdentitySource
	if fl.Identity == "aws" {
		id = fleet.NewEC2Identity(fl.IdentityEndpoint)
	}
	c, err := fleet.New(fleet.Options{
		URL: fl.URL.String(), JoinToken: fl.JoinToken, BootstrapToken: fl.BootstrapToken, Identity: id,
		NodeTokenFile: fl.NodeTokenFile, Name: cfg.Node, ProviderID: fl.ProviderID, Pool: fl.Pool, Offering: fl.Offering,
		Version: version, Interval: fl.HeartbeatInterval, Agent: agent, Exit: stop, Logger: logger, HTTPClient: hc,
		Token: nodeTok,
	})
	if err != nil {
		logger.Error("fleet", "err", err)
		return
	}
	c.Run(ctx)
}
