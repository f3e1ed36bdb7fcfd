// Package executortest is the conformance suite every executors.Executor
// implementation runs against its real engine: exit codes, output order,
// environment, mounts, services, networks, cancellation, cleanup, reaping,
// resource limits and the hardening of job containers.
package executortest

import (
	"context"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
)

// Harness adapts one executor implementation to the suite.
type Harness struct {
	// New returns an executor for node. Each subtest uses its own node
	// name, so subtests never reap each other's objects. New must t.Fatal
	// when the engine is unreachable.
	New func(t *testing.T, node string) executors.Executor
	// Image is a busybox-like image already present on the engine (sh,
	// wget, httpd, df, ps, tail, seq); the suite uses PullNever.
	Image string
	// Leftovers lists the engine objects still labelled for node.
	Leftovers func(t *testing.T, node string) []string
	// FirstStep says the executor implements the optional
	// executors.FirstStepCreator: the first-step cases then fail when it
	// does not, and are skipped (with a note) for executors without it.
	FirstStep bool
}

// createTimeout bounds every Create, Exec and Close the suite makes that
// is not about timing itself.
const createTimeout = 60 * time.Second

// testCase is one subtest of the suite.
type testCase struct {
	name string
	run  func(t *testing.T, h Harness)
}

// Run runs the conformance suite. It fails (never skips) when the engine
// is unreachable or h.Image is missing.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Image == "" || h.Leftovers == nil {
		t.Fatal("executortest: Harness needs New, Image and Leftovers")
	}
	preflight(t, h)
	cases := [][]testCase{execCases, mountCases, networkCases, lifecycleCases, stopCases, limitCases, securityCases, hostileCases, firstStepCases, lateStepCases}
	for _, group := range cases {
		for _, c := range group {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				c.run(t, h)
			})
		}
	}
}

// preflight checks that the engine answers and the image is present, so
// a broken setup fails loudly once instead of in every subtest.
func preflight(t *testing.T, h Harness) {
	t.Helper()
	node := uniqueNode(t)
	ex := h.New(t, node)
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	env, err := ex.Create(ctx, baseSpec(h, node))
	if err != nil {
		t.Fatalf("executortest: PREFLIGHT FAILED: cannot create an environment from image %q "+
			"(is the engine reachable and the image built?): %v", h.Image, err)
	}
	defer closeEnv(t, env)
	res, out := run(t, env, executors.Step{Script: "echo ready"})
	if res.ExitCode != 0 || out != "ready\n" {
		t.Fatalf("executortest: PREFLIGHT FAILED: `echo ready` gave exit %d, output %q", res.ExitCode, out)
	}
}
