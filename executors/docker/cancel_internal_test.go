package docker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
)

// TestCancelFallbackKillsContainer hides the container's processes from
// the executor (as in another PID namespace) and checks that a cancelled
// step still stops, by killing the container, and that the error and the
// Env say so.
func TestCancelFallbackKillsContainer(t *testing.T) {
	t.Parallel()
	node := "rfd-fallback-" + randSuffix()
	ex, err := New(Options{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	e, err := ex.Create(ctx, executors.Spec{JobID: "j" + node, Image: executors.Image{Name: "runfleet/busybox:latest", PullPolicy: executors.PullNever}})
	if err != nil {
		t.Fatalf("Create (is the engine up and runfleet/busybox built?): %v", err)
	}
	defer func() { _ = e.Close(ctx) }()
	env := e.(*Env)
	env.procs = containerProcs{} // nothing visible
	sctx, scancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer scancel()
	start := time.Now()
	_, err = env.Exec(sctx, executors.Step{Script: "sleep 300"}, &strings.Builder{})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, executors.ErrEngine) {
		t.Fatalf("Exec error %v, want DeadlineExceeded and ErrEngine", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %s", d)
	}
	if _, err := env.Exec(ctx, executors.Step{Script: "true"}, &strings.Builder{}); !errors.Is(err, executors.ErrEngine) {
		t.Errorf("Exec after the container was killed: %v, want ErrEngine", err)
	}
}

func randSuffix() string { return strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "") }
