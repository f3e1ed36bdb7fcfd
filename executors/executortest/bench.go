package executortest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
)

// FirstByte is an io.Writer whose First channel closes when the first
// byte is written: benchmarks time "until the first output byte" with it.
type FirstByte struct {
	once  sync.Once
	First chan struct{}
}

// NewFirstByte returns a FirstByte with its channel open.
func NewFirstByte() *FirstByte { return &FirstByte{First: make(chan struct{})} }

func (w *FirstByte) Write(p []byte) (int, error) {
	if len(p) > 0 {
		w.once.Do(func() { close(w.First) })
	}
	return len(p), nil
}

// BenchCreateFirstByte measures an executor: Create (hardened container,
// network per mode) plus Exec of `echo x` until the first byte reaches the
// writer. Close is not timed. Every executor's package runs it with its
// own executor, so the figures compare like with like.
func BenchCreateFirstByte(b *testing.B, ex executors.Executor, image string, mode executors.NetworkMode) {
	ctx := b.Context()
	i := 0
	for b.Loop() {
		i++
		env, err := ex.Create(ctx, executors.Spec{
			JobID:   fmt.Sprintf("b%d-%d", time.Now().UnixNano(), i),
			Image:   executors.Image{Name: image, PullPolicy: executors.PullNever},
			Network: mode,
		})
		if err != nil {
			b.Fatal(err)
		}
		w := NewFirstByte()
		done := make(chan error, 1)
		go func() {
			res, err := env.Exec(ctx, executors.Step{Script: "echo x"}, w)
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit %d", res.ExitCode)
			}
			done <- err
		}()
		select {
		case <-w.First:
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
