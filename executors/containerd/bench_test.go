package containerd_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
)

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
