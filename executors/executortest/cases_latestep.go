package executortest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

// lateStepCases check executors.LateFirstStepCreator, for executors that
// offer it: a job container created and started before its step is
// known runs nothing until RunFirstStep hands it the step, then runs it
// as its own process with the step's environment and directory and every
// limit of Create; a step it cannot be given is refused before anything
// runs.
var lateStepCases = []testCase{
	{"LateStepRuns", testLateStepRuns},
	{"LateStepLimitsAndHardening", testLateStepLimits},
	{"LateStepUnfit", testLateStepUnfit},
	{"LateStepCancel", testLateStepCancel},
}

// setupLate creates a late first-step Env for spec (JobID, Node and
// Image filled in), prestarted when asked, closed at cleanup.
func setupLate(t *testing.T, h Harness, spec executors.Spec, prestart bool) (string, executors.LateFirstStepEnv) {
	t.Helper()
	node, lc, spec := withCapability[executors.LateFirstStepCreator](t, h, spec)
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	env, err := lc.CreateLateFirstStep(ctx, spec)
	if err != nil {
		t.Fatalf("CreateLateFirstStep(%s): %v", spec.JobID, err)
	}
	t.Cleanup(func() { closeEnv(t, env) })
	if prestart {
		if err := env.Prestart(ctx); err != nil {
			t.Fatalf("Prestart: %v", err)
		}
	}
	if err := env.Waiting(ctx); err != nil {
		t.Fatalf("Waiting of a new late first step: %v", err)
	}
	return node, env
}

// runLate hands step to env, failing the test on an error.
func runLate(t *testing.T, env executors.LateFirstStepEnv, step executors.Step) (executors.Result, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	var out syncBuffer
	res, err := env.RunFirstStep(ctx, step, &out)
	if err != nil {
		t.Fatalf("RunFirstStep: %v (output %q)", err, out.String())
	}
	return res, out.String()
}

func testLateStepRuns(t *testing.T, h Harness) {
	spec := executors.Spec{
		Env:     []string{"A=spec-a", "B=spec-b"},
		WorkDir: "/work/dir",
		Mounts:  []executors.Mount{{Target: "/shared", Volume: true}},
	}
	hostile := "it's \"q\" $(touch /shared/injected) `id`\n\\n \n"
	step := executors.Step{
		Script:  `echo a; echo b >&2; echo "$A $B $(pwd) $(id -u)"; printf '%s|' "$C"; cat; echo d >&2; echo kept > /shared/f; exit 42`,
		Env:     []string{"B=step-b", "C=" + hostile},
		WorkDir: "/work",
	}
	for _, prestart := range []bool{true, false} {
		name := "created"
		if prestart {
			name = "prestarted"
		}
		t.Run(name, func(t *testing.T) {
			_, env := setupLate(t, h, spec, prestart)
			res, out := runLate(t, env, step)
			if want := "a\nb\nspec-a step-b /work 0\n" + hostile + "|d\n"; res.ExitCode != 42 || out != want {
				t.Errorf("late first step: exit %d, output %q; want 42, %q", res.ExitCode, out, want)
			}
			ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
			defer cancel()
			if err := env.Waiting(ctx); err == nil {
				t.Error("Waiting after RunFirstStep: nil, want an error")
			}
			if _, err := env.RunFirstStep(ctx, step, &syncBuffer{}); !errors.Is(err, executors.ErrFirstStepUsed) {
				t.Errorf("second RunFirstStep: %v, want ErrFirstStepUsed", err)
			}
			if fe, ok := env.(executors.FirstStepEnv); ok {
				if _, err := fe.RunFirst(ctx, &syncBuffer{}); !errors.Is(err, executors.ErrFirstStepUsed) {
					t.Errorf("RunFirst of a late first step: %v, want ErrFirstStepUsed", err)
				}
			}
			// Later steps: the spec's environment, not the first step's.
			if got := mustRun(t, env, `echo "$A $B $C $(pwd) $(cat /shared/f) $(ls /shared)"`); got != "spec-a spec-b  /work/dir kept f\n" {
				t.Errorf("Exec after RunFirstStep: %q", got)
			}
		})
	}

	// A prestarted late Env never given a step closes leaving nothing.
	node, unused := setupLate(t, h, richSpec(h), true)
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	if err := unused.Close(ctx); err != nil {
		t.Fatalf("Close of a waiting late Env: %v", err)
	}
	if left := h.Leftovers(t, node); len(left) != 0 {
		t.Errorf("after Close of a waiting late Env, still labelled for the node: %q", left)
	}
	if err := unused.Waiting(ctx); err == nil {
		t.Error("Waiting after Close: nil, want an error")
	}
}

func testLateStepLimits(t *testing.T, h Harness) {
	var log syncBuffer
	_, env := setupLate(t, h, limitsSpec(&log), true)
	if !strings.Contains(log.String(), "/scratch are capped at 16MiB") {
		t.Errorf("job log does not state the volume cap: %q", log.String())
	}
	res, out := runLate(t, env, executors.Step{Script: limitsProbe})
	if res.ExitCode != 0 {
		t.Fatalf("probe exited %d:\n%s", res.ExitCode, out)
	}
	checkLimits(t, out)
}

func testLateStepUnfit(t *testing.T, h Harness) {
	_, env := setupLate(t, h, executors.Spec{User: "65534"}, true)
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	for _, bad := range []executors.Step{
		{Script: "echo bad", Env: []string{"NOT-A-NAME=1"}},
		{Script: "echo bad", User: "0"},
	} {
		var out syncBuffer
		if _, err := env.RunFirstStep(ctx, bad, &out); !errors.Is(err, executors.ErrStepUnfit) {
			t.Errorf("RunFirstStep(%+v) = %v, want ErrStepUnfit", bad, err)
		}
		if out.String() != "" {
			t.Errorf("a refused step wrote %q", out.String())
		}
	}
	if err := env.Waiting(ctx); err != nil {
		t.Fatalf("Waiting after refused steps: %v", err)
	}
	if res, out := runLate(t, env, executors.Step{Script: "id -u", User: "65534"}); res.ExitCode != 0 || out != "65534\n" {
		t.Errorf("a fit step after refused ones: exit %d, %q", res.ExitCode, out)
	}
}

func testLateStepCancel(t *testing.T, h Harness) {
	_, env := setupLate(t, h, executors.Spec{}, true)
	checkFirstCancel(t, env, "RunFirstStep", func(ctx context.Context, out io.Writer) error {
		_, err := env.RunFirstStep(ctx, executors.Step{Script: cancelScript}, out)
		return err
	})
}
