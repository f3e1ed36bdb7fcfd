package docker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/runfleet/runfleet/autoscaler/provider"
	"github.com/runfleet/runfleet/autoscaler/provider/docker"
	"github.com/runfleet/runfleet/executors"
)

const testImage = "runfleet/busybox:latest"

// eachLauncher mirrors the control plane's optional EachLauncher.
type eachLauncher interface {
	LaunchEach(ctx context.Context, req provider.LaunchRequest, started func(provider.Instance)) ([]provider.Instance, error)
}

var _ eachLauncher = (*docker.Provider)(nil)

func hexID(t *testing.T) string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// engine returns a client of the real engine; no engine is a failure.
func engine(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	if _, err := c.Ping(context.Background()); err != nil {
		t.Fatalf("the Docker engine is required (DOCKER_HOST or /var/run/docker.sock): %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newProvider(t *testing.T, c *client.Client) (*docker.Provider, string) {
	t.Helper()
	fleet := "t" + hexID(t)
	p, err := docker.New(docker.Options{Client: c, Fleet: fleet, StateDir: t.TempDir(), Image: testImage, AllowHostDockerSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	return p, fleet
}

func run(t *testing.T, c *client.Client, name string, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, start bool) {
	t.Helper()
	ctx := context.Background()
	if cfg.Image == "" {
		cfg.Image = testImage
	}
	if hc == nil {
		hc = &container.HostConfig{}
	}
	created, err := c.ContainerCreate(ctx, cfg, hc, nc, nil, name)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	t.Cleanup(func() {
		c.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	})
	if start {
		if err := c.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
	}
}

// TestTerminateReapsWhatABusyNodeLeft: a busy node's agent has a running
// job container on a per-job network with a volume, a warm container and
// a finished one; Terminate leaves none of them behind.
func TestTerminateReapsWhatABusyNodeLeft(t *testing.T) {
	c := engine(t)
	p, fleet := newProvider(t, c)
	ctx := context.Background()
	node := "rf-" + fleet + "-linux-" + hexID(t)
	run(t, c, node, &container.Config{Cmd: []string{"sleep", "3600"},
		Labels: map[string]string{provider.LabelManaged: "true", provider.LabelFleet: fleet, provider.LabelPool: "linux"}}, nil, nil, true)

	labels := func(role string) map[string]string {
		return map[string]string{executors.LabelManaged: "true", executors.LabelNode: node, executors.LabelRole: role,
			executors.LabelJob: "job-1"}
	}
	netName := "runfleet-job-" + hexID(t)
	nw, err := c.NetworkCreate(ctx, netName, network.CreateOptions{Labels: labels("network")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.NetworkRemove(context.Background(), nw.ID) })
	vol, err := c.VolumeCreate(ctx, volume.CreateOptions{Name: "runfleet-cache-" + hexID(t), Labels: labels("volume")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.VolumeRemove(context.Background(), vol.Name, true) })
	run(t, c, "runfleet-job-"+hexID(t), &container.Config{Cmd: []string{"sleep", "3600"}, Labels: labels("job")},
		&container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: vol.Name, Target: "/cache"}}},
		&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{netName: {}}}, true)
	run(t, c, "runfleet-svc-"+hexID(t), &container.Config{Cmd: []string{"sleep", "3600"}, Labels: labels("service")},
		nil, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{netName: {}}}, true)
	run(t, c, "runfleet-warm-"+hexID(t), &container.Config{Cmd: []string{"sleep", "3600"}, Labels: labels("job")}, nil, nil, false)
	run(t, c, "runfleet-done-"+hexID(t), &container.Config{Cmd: []string{"true"}, Labels: labels("job")}, nil, nil, true)
	// Another node's objects must stay.
	other := "rf-" + fleet + "-linux-" + hexID(t)
	otherName := "runfleet-warm-" + hexID(t)
	run(t, c, otherName, &container.Config{Cmd: []string{"sleep", "3600"},
		Labels: map[string]string{executors.LabelManaged: "true", executors.LabelNode: other}}, nil, nil, false)

	if err := p.Terminate(ctx, node); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	f := filters.NewArgs(filters.Arg("label", executors.LabelNode+"="+node))
	cs, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	nets, err := c.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	vols, err := c.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs)+len(nets)+len(vols.Volumes) != 0 {
		t.Errorf("left behind: %d containers, %d networks, %d volumes", len(cs), len(nets), len(vols.Volumes))
	}
	if _, err := c.ContainerInspect(ctx, node); err == nil {
		t.Error("the node container is still there")
	}
	if _, err := c.ContainerInspect(ctx, otherName); err != nil {
		t.Errorf("another node's container was removed: %v", err)
	}
	// Gone already: success.
	if err := p.Terminate(ctx, node); err != nil {
		t.Errorf("Terminate of a gone node: %v", err)
	}
}

// TestLaunchEachReportsNodesBeforeTheyStart: each node is reported while
// its container exists but has not started (its agent cannot register
// yet), and every reported node is returned.
func TestLaunchEachReportsNodesBeforeTheyStart(t *testing.T) {
	c := engine(t)
	p, _ := newProvider(t, c)
	ctx := context.Background()
	var reported []provider.Instance
	insts, err := p.LaunchEach(ctx, provider.LaunchRequest{Pool: "linux", Offering: docker.DefaultOffering, Count: 2},
		func(in provider.Instance) {
			reported = append(reported, in)
			ci, err := c.ContainerInspect(ctx, in.ProviderID)
			if err != nil {
				t.Errorf("reported %s: %v", in.Name, err)
				return
			}
			if ci.State.Status != "created" || in.State != "pending" {
				t.Errorf("reported %s in state %s (%s), want a created, not yet started container", in.Name, ci.State.Status, in.State)
			}
		})
	for _, in := range insts {
		t.Cleanup(func() { p.Terminate(context.Background(), in.ProviderID) })
	}
	if err != nil {
		t.Fatalf("LaunchEach: %v", err)
	}
	if len(insts) != 2 || len(reported) != 2 {
		t.Fatalf("returned %d, reported %d, want 2 and 2", len(insts), len(reported))
	}
	for i := range insts {
		if insts[i].ProviderID != reported[i].ProviderID || insts[i].State != "running" {
			t.Errorf("returned %+v, reported %+v", insts[i], reported[i])
		}
	}
}

// TestEachNodeGetsItsOwnBootstrapToken: every container carries its own
// one-time bootstrap token in its environment, the one Launch reports.
func TestEachNodeGetsItsOwnBootstrapToken(t *testing.T) {
	c := engine(t)
	p, _ := newProvider(t, c)
	ctx := context.Background()
	insts, err := p.Launch(ctx, provider.LaunchRequest{Pool: "linux", Offering: docker.DefaultOffering, Count: 2})
	for _, in := range insts {
		t.Cleanup(func() { p.Terminate(context.Background(), in.ProviderID) })
	}
	if err != nil || len(insts) != 2 {
		t.Fatalf("Launch: %d nodes, %v", len(insts), err)
	}
	seen := map[string]bool{}
	for _, in := range insts {
		if len(in.BootstrapToken) < 32 || seen[in.BootstrapToken] {
			t.Fatalf("%s: bootstrap token %q: want a fresh random one per node", in.Name, in.BootstrapToken)
		}
		seen[in.BootstrapToken] = true
		ci, err := c.ContainerInspect(ctx, in.ProviderID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ci.Config.Env, "RUNFLEET_FLEET_BOOTSTRAP_TOKEN="+in.BootstrapToken) {
			t.Errorf("%s: the container's environment lacks its bootstrap token", in.Name)
		}
	}
}

// TestHostSocketNeedsConsent: without AllowHostDockerSocket the provider
// refuses to start.
func TestHostSocketNeedsConsent(t *testing.T) {
	_, err := docker.New(docker.Options{Client: engine(t), Fleet: "x", StateDir: t.TempDir()})
	if !errors.Is(err, docker.ErrHostSocketNotAllowed) {
		t.Fatalf("New without allow_host_docker_socket: %v, want ErrHostSocketNotAllowed", err)
	}
}
