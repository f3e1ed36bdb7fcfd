package docker_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
)

// BenchmarkStepExitToReturn measures how long after a step's last output
// byte reaches the writer (the script's last command, right before it
// exits) the call that ran it returns: RunFirst for a first step, and, as
// the baseline measured in the same run, Exec in the same Env. The step is
// `echo x`; Create, the keeper's start and Close are outside both figures.
// Reported per iteration: first-ms (RunFirst), exec-ms (Exec) and
// first/exec (their ratio).
func BenchmarkStepExitToReturn(b *testing.B) {
	node := fmt.Sprintf("rfb-exit-%d", time.Now().UnixNano())
	ex := newExecutor(b, node)
	ctx := b.Context()
	step := executors.Step{Script: "echo x"}
	var first, exec time.Duration
	n := 0
	for b.Loop() {
		n++
		env, err := ex.CreateFirstStep(ctx, executors.Spec{
			JobID:   fmt.Sprintf("b%d-%d", time.Now().UnixNano(), n),
			Image:   executors.Image{Name: testImage, PullPolicy: executors.PullNever},
			Network: executors.NetworkNone,
		}, step)
		if err != nil {
			b.Fatal(err)
		}
		var w lastByteWriter
		res, err := env.RunFirst(ctx, &w)
		returned := time.Now()
		if err != nil || res.ExitCode != 0 || w.text() != "x\n" {
			b.Fatalf("RunFirst: exit %d, %v, output %q", res.ExitCode, err, w.text())
		}
		first += returned.Sub(w.lastAt())
		// Warm the keeper container up, so the measured Exec is a plain one.
		if _, err := env.Exec(ctx, executors.Step{Script: "true"}, &lastByteWriter{}); err != nil {
			b.Fatal(err)
		}
		w = lastByteWriter{}
		res, err = env.Exec(ctx, step, &w)
		returned = time.Now()
		if err != nil || res.ExitCode != 0 || w.text() != "x\n" {
			b.Fatalf("Exec: exit %d, %v, output %q", res.ExitCode, err, w.text())
		}
		exec += returned.Sub(w.lastAt())
		if err := env.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(n) }
	b.ReportMetric(ms(first), "first-ms")
	b.ReportMetric(ms(exec), "exec-ms")
	b.ReportMetric(float64(first)/float64(exec), "first/exec")
}

// lastByteWriter keeps what is written to it and when it was last written.
type lastByteWriter struct {
	mu   sync.Mutex
	b    []byte
	last time.Time
}

func (w *lastByteWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) > 0 {
		w.b = append(w.b, p...)
		w.last = time.Now()
	}
	return len(p), nil
}

func (w *lastByteWriter) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}

func (w *lastByteWriter) lastAt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}
