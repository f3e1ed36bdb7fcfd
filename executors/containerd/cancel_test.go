package containerd_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/containerd"
)

// TestCancelFallbackKillsTask hides the job's processes from the executor
// and checks that a cancelled step still stops, by killing the task, and
// that the error and the Env say so.
func TestCancelFallbackKillsTask(t *testing.T) {
	t.Parallel()
	node := uniqueNode(t)
	ex := newExecutor(t, node)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	env, err := ex.Create(ctx, executors.Spec{JobID: "j" + node, Image: executors.Image{Name: testImage, PullPolicy: executors.PullNever}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Close(ctx) }()
	containerd.HideProcs(env)
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
		t.Errorf("Exec after the task was killed: %v, want ErrEngine", err)
	}
	if err := env.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	if left := leftovers(t, node); len(left) != 0 {
		t.Errorf("after Close: %q", left)
	}
}
