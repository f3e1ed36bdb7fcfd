package docker_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
	"github.com/runfleet/runfleet/autoscaler/provider/docker"
)

// TestWarmPool: warm containers are created and never started, hidden
// from List, started first by a warm launch (each reported with its own
// unused bootstrap token before it starts), and the rest of the launch
// boots cold; FillWarm trims the pool too.
func TestWarmPool(t *testing.T) {
	c := engine(t)
	p, fleet := newProvider(t, c)
	ctx := context.Background()
	req := provider.LaunchRequest{Pool: "linux", Offering: docker.DefaultOffering,
		Bootstrap: provider.Bootstrap{FleetURL: "http://127.0.0.1:1", JoinToken: "join"}}
	t.Cleanup(func() {
		p.FillWarm(context.Background(), req, 0)
		insts, _ := p.List(context.Background())
		for _, in := range insts {
			p.Terminate(context.Background(), in.ProviderID)
		}
	})
	if n, err := p.FillWarm(ctx, req, 2); err != nil || n != 2 {
		t.Fatalf("FillWarm: %d, %v", n, err)
	}
	if n, err := p.Warm(ctx, "linux"); err != nil || n != 2 {
		t.Fatalf("Warm: %d, %v", n, err)
	}
	if n, _ := p.Warm(ctx, "other"); n != 0 {
		t.Errorf("another pool has %d warm nodes", n)
	}
	if insts, err := p.List(ctx); err != nil || len(insts) != 0 {
		t.Fatalf("List shows warm containers as nodes: %+v, %v", insts, err)
	}
	var warmNames []string
	cs, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", provider.LabelFleet+"="+fleet))})
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range cs {
		name := strings.TrimPrefix(ct.Names[0], "/")
		if ci, err := c.ContainerInspect(ctx, ct.ID); err != nil || ci.State.Status != "created" || ci.State.StartedAt != "0001-01-01T00:00:00Z" {
			t.Errorf("warm container %s ran before its launch: %+v, %v", name, ci.State, err)
		}
		warmNames = append(warmNames, name)
	}
	if len(warmNames) != 2 {
		t.Fatalf("warm containers %v", warmNames)
	}

	req.Kind, req.Count = policy.LaunchWarm, 3
	tokens := map[string]bool{}
	var reported []string
	insts, err := p.LaunchEach(ctx, req, func(in provider.Instance) {
		reported = append(reported, in.Name)
		if in.BootstrapToken == "" || tokens[in.BootstrapToken] {
			t.Errorf("node %s reported with bootstrap token %q (empty or shared)", in.Name, in.BootstrapToken)
		}
		tokens[in.BootstrapToken] = true
	})
	if err != nil || len(insts) != 3 || len(reported) != 3 {
		t.Fatalf("warm launch of 3: %d started, %d reported, %v", len(insts), len(reported), err)
	}
	for _, name := range warmNames {
		if !slices.Contains(reported[:2], name) {
			t.Errorf("warm node %s not started first (started %v)", name, reported)
		}
	}
	if slices.Contains(warmNames, reported[2]) {
		t.Errorf("the third node %s should have booted cold", reported[2])
	}
	if n, _ := p.Warm(ctx, "linux"); n != 0 {
		t.Errorf("%d warm nodes left after starting them all", n)
	}
	if all, _ := p.List(ctx); len(all) != 3 {
		t.Errorf("List after the launch: %d nodes, want 3", len(all))
	}
	// Trim: fill to 2, then down to 1.
	p.FillWarm(ctx, req, 2)
	if n, err := p.FillWarm(ctx, req, 1); err != nil || n != 1 {
		t.Fatalf("trim: %d, %v", n, err)
	}
	if n, _ := p.Warm(ctx, "linux"); n != 1 {
		t.Errorf("%d warm nodes after trimming to 1", n)
	}
}

// TestPrivilegedPoolNodes: a privileged (single-use) pool's nodes get the
// agent setting that allows privileged job containers; others never.
func TestPrivilegedPoolNodes(t *testing.T) {
	c := engine(t)
	p, _ := newProvider(t, c)
	ctx := context.Background()
	for _, priv := range []bool{false, true} {
		insts, err := p.Launch(ctx, provider.LaunchRequest{Pool: "dind", Offering: docker.DefaultOffering, Count: 1,
			Bootstrap: provider.Bootstrap{Privileged: priv}})
		if err != nil || len(insts) != 1 {
			t.Fatalf("launch: %v", err)
		}
		t.Cleanup(func() { p.Terminate(context.Background(), insts[0].ProviderID) })
		ci, err := c.ContainerInspect(ctx, insts[0].ProviderID)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(ci.Config.Env, "RUNFLEET_DOCKER_PRIVILEGED=true"); got != priv {
			t.Errorf("privileged pool %v: node env has RUNFLEET_DOCKER_PRIVILEGED=true: %v", priv, got)
		}
		if ci.HostConfig.Privileged {
			t.Error("the node container itself must not be privileged")
		}
	}
}
