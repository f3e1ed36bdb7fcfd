package executortest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
)

var lifecycleCases = []testCase{
	{"CancelStep", testCancelStep},
	{"CloseTwiceLeavesNothing", testCloseTwice},
	{"ReapAbandoned", testReapAbandoned},
	{"CancelledCreateLeavesNothing", testCancelledCreate},
}

// cancelDeadline is how fast a cancelled step must return.
const cancelDeadline = 5 * time.Second

func testCancelStep(t *testing.T, h Harness) {
	_, env := setup(t, h, executors.Spec{})
	for _, tc := range []struct{ name, script string }{
		{"foreground", "echo started; sleep 300"},
		{"children and orphans", "(sleep 300 &); sleep 300 & echo started; sleep 300; wait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var out syncBuffer
			type ret struct {
				res executors.Result
				err error
			}
			done := make(chan ret, 1)
			go func() {
				res, err := env.Exec(ctx, executors.Step{Script: tc.script}, &out)
				done <- ret{res, err}
			}()
			waitFor(t, func() bool { return strings.Contains(out.String(), "started") }, 10*time.Second, "step to start")
			cancel()
			start := time.Now()
			select {
			case r := <-done:
				if !errors.Is(r.err, context.Canceled) {
					t.Fatalf("cancelled Exec returned %v (exit %d), want an error wrapping context.Canceled", r.err, r.res.ExitCode)
				}
			case <-time.After(cancelDeadline):
				t.Fatalf("cancelled Exec still running after %s", cancelDeadline)
			}
			t.Logf("cancel took %s", time.Since(start))
			// The Env runs further steps (GitLab's after_script) and the
			// cancelled step's processes are gone.
			out2 := mustRun(t, env, "echo after; ps -o args | grep -c '^sleep 300$' || true")
			if out2 != "after\n0\n" {
				t.Errorf("after cancel: got %q, want the env usable and no `sleep 300` left", out2)
			}
		})
	}
}

// waitFor polls cond until it holds or fails the test after limit.
func waitFor(t *testing.T, cond func() bool, limit time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// richSpec has a service, a per-job network and a volume: one of each
// kind of object an executor creates.
func richSpec(h Harness) executors.Spec {
	return executors.Spec{
		Mounts: []executors.Mount{{Target: "/cache", Volume: true}},
		Services: []executors.Service{{
			Image:   executors.Image{Name: h.Image, PullPolicy: executors.PullNever, Command: []string{"sleep", "300"}},
			Aliases: []string{"svc"},
		}},
		Labels: map[string]string{"test.suite": "executortest"},
	}
}

func testCloseTwice(t *testing.T, h Harness) {
	node := uniqueNode(t)
	ex := h.New(t, node)
	spec := richSpec(h)
	spec.JobID, spec.Node, spec.Image = newJobID(), node, executors.Image{Name: h.Image, PullPolicy: executors.PullNever}
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	env, err := ex.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if left := h.Leftovers(t, node); len(left) < 3 {
		t.Errorf("Leftovers lists %q for a live env with a service and a volume; want at least 3 objects", left)
	}
	if err := env.Close(ctx); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := env.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if left := h.Leftovers(t, node); len(left) != 0 {
		t.Errorf("after Close, still labelled for the node: %q", left)
	}
	if _, err := env.Exec(ctx, executors.Step{Script: "true"}, &syncBuffer{}); !errors.Is(err, executors.ErrEnvClosed) {
		t.Errorf("Exec after Close: %v, want executors.ErrEnvClosed", err)
	}
	// Close under an already cancelled context still cleans up.
	env2 := create(t, ex, executors.Spec{JobID: newJobID(), Node: node, Image: spec.Image, Services: spec.Services})
	cctx, ccancel := context.WithCancel(t.Context())
	ccancel()
	if err := env2.Close(cctx); err != nil {
		t.Fatalf("Close with a cancelled context: %v", err)
	}
	if left := h.Leftovers(t, node); len(left) != 0 {
		t.Errorf("after Close(cancelled ctx), still labelled for the node: %q", left)
	}
}

func testReapAbandoned(t *testing.T, h Harness) {
	node := uniqueNode(t)
	img := executors.Image{Name: h.Image, PullPolicy: executors.PullNever}
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	// The restarted agent has a live env of its own when it reaps.
	ex := h.New(t, node)
	live := create(t, ex, executors.Spec{JobID: newJobID(), Node: node, Image: img})
	baseline := h.Leftovers(t, node)
	// A first agent created an env and "died" without closing it.
	dead := h.New(t, node)
	spec := richSpec(h)
	spec.JobID, spec.Node, spec.Image = newJobID(), node, img
	if _, err := dead.Create(ctx, spec); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if left := h.Leftovers(t, node); len(left) <= len(baseline) {
		t.Fatalf("Leftovers does not list the abandoned env: %q", left)
	}
	// Objects of another node are not touched.
	other := uniqueNode(t)
	otherEnv := create(t, h.New(t, other), executors.Spec{JobID: newJobID(), Node: other, Image: img})

	if err := ex.Reap(ctx); err != nil {
		t.Fatalf("Reap: %v", err)
	}
	if left := h.Leftovers(t, node); !slices.Equal(sorted(left), sorted(baseline)) {
		t.Errorf("after Reap, labelled for the node: %q; want only the live env's %q", left, baseline)
	}
	if out := mustRun(t, live, "echo alive"); out != "alive\n" {
		t.Errorf("live env after Reap: %q", out)
	}
	if out := mustRun(t, otherEnv, "echo alive"); out != "alive\n" {
		t.Errorf("other node's env after Reap: %q", out)
	}
	if err := ex.Reap(ctx); err != nil {
		t.Fatalf("second Reap: %v", err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// testCancelledCreate cancels Create at points spread over its work
// (network, volume, service and job containers): whether Create failed or
// finished first, once it returned (and a finished Env was closed)
// nothing labelled for the node is left, including objects whose creation
// answer the cancellation cut off.
func testCancelledCreate(t *testing.T, h Harness) {
	node := uniqueNode(t)
	ex := h.New(t, node)
	img := executors.Image{Name: h.Image, PullPolicy: executors.PullNever}
	for i, after := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond,
		30 * time.Millisecond, 60 * time.Millisecond, 120 * time.Millisecond, 250 * time.Millisecond} {
		ctx, cancel := context.WithCancel(t.Context())
		timer := time.AfterFunc(after, cancel)
		env, err := ex.Create(ctx, executors.Spec{
			JobID: newJobID(), Node: node, Image: img,
			Mounts:   []executors.Mount{{Target: "/cache", Volume: true}},
			Services: []executors.Service{{Image: img, Aliases: []string{"svc" + strconv.Itoa(i)}}},
		})
		timer.Stop()
		cancel()
		if err == nil {
			cctx, ccancel := context.WithTimeout(t.Context(), createTimeout)
			if err := env.Close(cctx); err != nil {
				t.Errorf("close after %v: %v", after, err)
			}
			ccancel()
		}
		if left := h.Leftovers(t, node); len(left) != 0 {
			t.Fatalf("Create cancelled after %v (err %v) left %q", after, err, left)
		}
	}
}
