package docker

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"

	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
)

// labelWarm marks a node container created for the pool's warm pool.
// While it waits it is created and never started: it has run nothing, so
// it holds no identity (its bootstrap token is unused, no node token
// exists) and registers fresh when a warm launch starts it.
const labelWarm = "dev.runfleet.warm-pool"

// waiting reports whether c is a warm-pool container not started yet.
func waiting(c container.Summary) bool {
	return c.Labels[labelWarm] == "true" && c.State == "created"
}

// warm lists the pool's waiting warm containers, the oldest first.
func (p *Provider) warm(ctx context.Context, pool string) ([]container.Summary, error) {
	f := p.fleetFilter()
	f.Add("label", labelWarm+"=true")
	f.Add("label", provider.LabelPool+"="+pool)
	f.Add("status", "created")
	cs, err := p.c.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("docker provider: list warm pool: %w", err)
	}
	cs = slices.DeleteFunc(cs, func(c container.Summary) bool { return !waiting(c) })
	slices.SortFunc(cs, func(a, b container.Summary) int {
		if a.Created != b.Created {
			return int(a.Created - b.Created)
		}
		return strings.Compare(a.ID, b.ID)
	})
	return cs, nil
}

// Warm counts the pool's nodes waiting in its warm pool.
func (p *Provider) Warm(ctx context.Context, pool string) (int, error) {
	cs, err := p.warm(ctx, pool)
	return len(cs), err
}

// FillWarm keeps size node containers of req.Pool waiting in its warm
// pool (created, not started, req.Offering and req.Bootstrap as a launch
// would use): it creates the missing ones and removes the newest beyond
// size. It returns how many wait.
func (p *Provider) FillWarm(ctx context.Context, req provider.LaunchRequest, size int) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs, err := p.warm(ctx, req.Pool)
	if err != nil {
		return 0, err
	}
	have := len(cs)
	for ; have > size; have-- {
		name := strings.TrimPrefix(firstOr(cs[have-1].Names, cs[have-1].ID), "/")
		if err := p.Terminate(ctx, name); err != nil {
			return have, err
		}
	}
	for ; have < size; have++ {
		in, _, _, err := p.createNode(ctx, req, true)
		if err != nil {
			return have, err
		}
		p.log.Info("node container created for the warm pool", "node", in.Name, "pool", req.Pool)
	}
	return have, nil
}

// startWarm starts up to count of the pool's warm containers when req is
// a warm launch, reporting each to started first, as a cold launch does.
// The caller holds p.mu.
func (p *Provider) startWarm(ctx context.Context, req provider.LaunchRequest, count int, started func(provider.Instance)) ([]provider.Instance, error) {
	if req.Kind != policy.LaunchWarm || count <= 0 {
		return nil, nil
	}
	cs, err := p.warm(ctx, req.Pool)
	if err != nil {
		return nil, err
	}
	var out []provider.Instance
	for _, c := range cs[:min(count, len(cs))] {
		name := strings.TrimPrefix(firstOr(c.Names, c.ID), "/")
		info, err := p.c.ContainerInspect(ctx, c.ID)
		if err != nil {
			return out, fmt.Errorf("docker provider: inspect warm node %s: %w", name, err)
		}
		var token string
		for _, e := range info.Config.Env {
			if v, ok := strings.CutPrefix(e, "RUNFLEET_FLEET_BOOTSTRAP_TOKEN="); ok {
				token = v
			}
		}
		in := provider.Instance{ProviderID: name, Name: name, Pool: req.Pool, Offering: p.offering(c.Labels[provider.LabelOffering]),
			State: "pending", LaunchedAt: p.o.Now(), BootstrapToken: token}
		cleanup := func() { _ = p.Terminate(context.WithoutCancel(ctx), name) }
		in, err = p.startNode(ctx, in, c.ID, cleanup, started)
		if err != nil {
			return out, err
		}
		out = append(out, in)
	}
	return out, nil
}
