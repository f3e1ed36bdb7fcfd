package docker_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/runfleet/runfleet/executors"
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
	benchCreateFirstByte(b, executors.NetworkPerJob)
}

// BenchmarkCreateFirstByteNoNetwork is BenchmarkCreateFirstByte without
// the per-job network, to show what the network costs.
func BenchmarkCreateFirstByteNoNetwork(b *testing.B) {
	benchCreateFirstByte(b, executors.NetworkNone)
}

func benchCreateFirstByte(b *testing.B, mode executors.NetworkMode) {
	node := fmt.Sprintf("rfb-exec-%d", time.Now().UnixNano())
	ex := newExecutor(b, node)
	ctx := b.Context()
	i := 0
	for b.Loop() {
		i++
		env, err := ex.Create(ctx, executors.Spec{
			JobID:   fmt.Sprintf("b%d-%d", time.Now().UnixNano(), i),
			Image:   executors.Image{Name: testImage, PullPolicy: executors.PullNever},
			Network: mode,
		})
		if err != nil {
			b.Fatal(err)
		}
		w := newFirstByteWriter()
		done := make(chan error, 1)
		go func() {
			res, err := env.Exec(ctx, executors.Step{Script: "echo x"}, w)
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit %d", res.ExitCode)
			}
			done <- err
		}()
		select {
		case <-w.first:
		case err := <-done:
			b.Fatalf("Exec ended before any output: %v", err)
		}
		b.StopTimer()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if err := env.Close(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// firstByteWriter closes first when the first byte is written.
type firstByteWriter struct {
	once  sync.Once
	first chan struct{}
}

func newFirstByteWriter() *firstByteWriter { return &firstByteWriter{first: make(chan struct{})} }

func (w *firstByteWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		w.once.Do(func() { close(w.first) })
	}
	return len(p), nil
}
