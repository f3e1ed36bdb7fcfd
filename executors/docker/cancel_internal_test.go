package docker

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/runfleet/runfleet/executors"
)

// TestCancelFallbackKillsContainer hides the container's processes from
// the executor (as in another PID namespace) and checks that a cancelled
// step still stops, by killing the container, and that the error and the
// Env say so.
func TestCancelFallbackKillsContainer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	env := cancelEnv(ctx, t, "rfd-fallback-", nil)
	env.procs = containerProcs{} // nothing visible
	sctx, scancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer scancel()
	start := time.Now()
	_, err := env.Exec(sctx, executors.Step{Script: "sleep 300"}, &strings.Builder{})
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

// latePID is the engine as Docker behaves under load while it starts an
// exec: the process runs and its output streams, but ExecInspect reports
// the exec running with Pid 0 until the engine recorded the PID. It hides
// the PID of each exec from its first hide inspections.
type latePID struct {
	engine
	hide int

	mu   sync.Mutex
	seen map[string]int
}

func (l *latePID) ContainerExecInspect(ctx context.Context, id string) (container.ExecInspect, error) {
	ins, err := l.engine.ContainerExecInspect(ctx, id)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && ins.Running && l.seen[id] < l.hide {
		l.seen[id]++
		ins.Pid = 0
	}
	return ins, err
}

// TestCancelWhileEnginePIDUnknown cancels a step whose exec the engine
// reports running without a PID yet (latePID, what made the conformance
// case CancelStep flaky under load): the cancel must still kill the
// step's whole tree, not only what it orphaned, and leave the Env usable.
func TestCancelWhileEnginePIDUnknown(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	e := cancelEnv(ctx, t, "rfd-latepid-", func(api engine) engine {
		return &latePID{engine: api, hide: 5, seen: map[string]int{}}
	})
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	pr, pw := io.Pipe()
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if sc.Text() == "started" {
				close(started)
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	done := make(chan error, 1)
	go func() {
		_, err := e.Exec(sctx, executors.Step{Script: "(sleep 300 &); sleep 300 & echo started; sleep 300; wait"}, pw)
		pw.Close()
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out after 10s waiting for the step to print started")
	}
	scancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || errors.Is(err, executors.ErrEngine) {
			t.Fatalf("cancelled Exec returned %v, want context.Canceled and no ErrEngine (the step's processes found)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled Exec still running after 10s")
	}
	var after strings.Builder
	if _, err := e.Exec(ctx, executors.Step{Script: "ps -o args | grep -c '^sleep 300$' || true"}, &after); err != nil {
		t.Fatalf("Exec after the cancel: %v", err)
	}
	if got := after.String(); got != "0\n" {
		t.Errorf("after the cancel %q processes `sleep 300` are left, want 0", strings.TrimSpace(got))
	}
}

// cancelEnv creates a job Env on a fresh node's executor, whose engine
// wrap (when set) stands between the executor and the real one; both are
// closed when the test ends.
func cancelEnv(ctx context.Context, t *testing.T, prefix string, wrap func(engine) engine) *Env {
	t.Helper()
	node := prefix + randSuffix()
	ex, err := New(Options{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ex.Close() })
	if wrap != nil {
		ex.api = wrap(ex.api)
	}
	e, err := ex.Create(ctx, executors.Spec{JobID: "j" + node, Image: executors.Image{Name: "runfleet/busybox:latest", PullPolicy: executors.PullNever}})
	if err != nil {
		t.Fatalf("Create (is the engine up and runfleet/busybox built?): %v", err)
	}
	t.Cleanup(func() { _ = e.Close(context.WithoutCancel(ctx)) })
	return e.(*Env)
}

func randSuffix() string { return strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "") }
