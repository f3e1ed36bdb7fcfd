package docker_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/docker"
)

// testImage is built offline by images/busybox/build.sh.
const testImage = "runfleet/busybox:latest"

// newClient returns a client for DOCKER_HOST or the default socket, or
// fails the test loudly when the engine does not answer.
func newClient(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 10*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("DOCKER ENGINE UNREACHABLE (DOCKER_HOST=%q): %v", c.DaemonHost(), err)
	}
	if _, err := c.ImageInspect(ctx, testImage); err != nil {
		t.Fatalf("TEST IMAGE MISSING: %s (run images/busybox/build.sh): %v", testImage, err)
	}
	return c
}

// newExecutor returns an Executor for node that logs to the test.
func newExecutor(t testing.TB, node string, mod ...func(*docker.Options)) *docker.Executor {
	t.Helper()
	opts := docker.Options{
		Client: newClient(t),
		Node:   node,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, m := range mod {
		m(&opts)
	}
	ex, err := docker.New(opts)
	if err != nil {
		t.Fatalf("docker.New: %v", err)
	}
	return ex
}

// leftovers lists every container, network and volume labelled for node.
func leftovers(t *testing.T, node string) []string {
	t.Helper()
	c := newClient(t)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
	defer cancel()
	f := filters.NewArgs(filters.Arg("label", executors.LabelNode+"="+node))
	var out []string
	cs, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	for _, x := range cs {
		out = append(out, "container "+x.Names[0])
	}
	ns, err := c.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatalf("list networks: %v", err)
	}
	for _, x := range ns {
		out = append(out, "network "+x.Name)
	}
	vs, err := c.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatalf("list volumes: %v", err)
	}
	for _, x := range vs.Volumes {
		out = append(out, "volume "+x.Name)
	}
	return out
}
