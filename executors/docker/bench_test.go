package docker_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/docker"
	"github.com/runfleet/runfleet/executors/executortest"
)

// BenchmarkRawCreateStart is the floor: the engine API alone creating and
// starting a container that runs `echo x`, until its first output byte
// arrives on the attach stream. Removal is not timed.
func BenchmarkRawCreateStart(b *testing.B) {
	c := newClient(b)
	ctx := b.Context()
	node := fmt.Sprintf("rfb-raw-%d", time.Now().UnixNano())
	labels := map[string]string{executors.LabelManaged: "true", executors.LabelNode: node}
	for b.Loop() {
		resp, err := c.ContainerCreate(ctx, &container.Config{
			Image: testImage, Cmd: []string{"echo", "x"}, Labels: labels,
			AttachStdout: true, AttachStderr: true,
		}, &container.HostConfig{}, nil, nil, "")
		if err != nil {
			b.Fatal(err)
		}
		att, err := c.ContainerAttach(ctx, resp.ID, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
			b.Fatal(err)
		}
		// Attach streams are multiplexed: an 8-byte header, then "x\n".
		var first [9]byte
		if _, err := io.ReadFull(att.Reader, first[:]); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		att.Close()
		if err := c.ContainerRemove(context.WithoutCancel(ctx), resp.ID, container.RemoveOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkCreateFirstByte measures the executor: Create (per-job network,
// hardened container) plus Exec of `echo x` until the first byte reaches
// the writer. Close is not timed.
func BenchmarkCreateFirstByte(b *testing.B) {
	executortest.BenchCreateFirstByte(b, newExecutor(b, fmt.Sprintf("rfb-exec-%d", time.Now().UnixNano())), testImage, executors.NetworkPerJob)
}

// BenchmarkCreateFirstByteNoNetwork is BenchmarkCreateFirstByte without
// the per-job network, to show what the network costs.
func BenchmarkCreateFirstByteNoNetwork(b *testing.B) {
	executortest.BenchCreateFirstByte(b, newExecutor(b, fmt.Sprintf("rfb-exec-%d", time.Now().UnixNano())), testImage, executors.NetworkNone)
}

// BenchmarkCreateFirstByteWarm is BenchmarkCreateFirstByte with one warm
// per-job network (Options.WarmNetworks), as the agent runs it: the pool
// refills in the background while the jobs run.
func BenchmarkCreateFirstByteWarm(b *testing.B) {
	ex := newExecutor(b, fmt.Sprintf("rfb-exec-%d", time.Now().UnixNano()), func(o *docker.Options) { o.WarmNetworks = 1 })
	b.Cleanup(func() {
		if err := ex.Close(); err != nil {
			b.Error(err)
		}
	})
	executortest.BenchCreateFirstByte(b, ex, testImage, executors.NetworkPerJob)
}
