package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider/docker"
)

// newProvider builds the configured node provider; the returned func
// releases it.
func newProvider(ctx context.Context, c *config, logger *slog.Logger) (controlplane.Provider, func(), error) {
	switch c.Provider.Type {
	case "docker":
		d := c.Provider.Docker
		p, err := docker.New(docker.Options{
			Host: d.Host, Fleet: c.Fleet, Image: d.Image, NodeConfig: c.NodeConfig, Slots: d.Slots,
			StateDir: d.StateDir, Socket: d.Socket, MaxNodes: d.MaxNodes, Offerings: offerings(c), Logger: logger,
			AllowHostDockerSocket: d.AllowHostDockerSocket, FleetCA: c.DockerFleetCA,
		})
		if err != nil {
			return nil, nil, err
		}
		return p, func() { p.Close() }, nil
	case "aws":
		p, err := newAWSProvider(ctx, c, logger)
		if err != nil {
			return nil, nil, err
		}
		return p, func() {}, nil
	}
	return nil, nil, fmt.Errorf("provider %q is not wired into this build yet", c.Provider.Type)
}

// offerings lists every pool's offerings once.
func offerings(c *config) []policy.Offering {
	var out []policy.Offering
	seen := map[policy.Offering]bool{}
	for _, p := range c.Pools {
		for _, o := range p.Offerings {
			if !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
	}
	return out
}
