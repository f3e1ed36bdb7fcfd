package executortest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
)

var stopCases = []testCase{
	{"StopKillsEveryProcess", testStopKillsEveryProcess},
}

// testStopKillsEveryProcess: a job leaves a process writing into its
// build directory; Stop (executors.Stopper) returns once no process of
// the job writes there any more, Exec then fails with ErrEnvClosed, a
// second Stop is fine and Close removes everything. Both for a Create Env
// (with a service) and for a first-step Env whose later step left the
// process in the keeper container.
func testStopKillsEveryProcess(t *testing.T, h Harness) {
	const writer = `(while :; do echo t >> /mnt/rw/tick; done) >/dev/null 2>&1 & echo started`
	for _, tc := range []struct {
		name  string
		first bool
	}{{"Create", false}, {"first step", true}} {
		t.Run(tc.name, func(t *testing.T) {
			rw := t.TempDir()
			spec := richSpec(h)
			spec.Mounts = append(spec.Mounts, executors.Mount{Source: rw, Target: "/mnt/rw"})
			var env executors.Env
			var node string
			if tc.first {
				n, fenv := setupFirst(t, h, spec, executors.Step{Script: "echo first"})
				if res, out := runFirst(t, fenv); res.ExitCode != 0 {
					t.Fatalf("first step: exit %d, %q", res.ExitCode, out)
				}
				env, node = fenv, n
			} else {
				node = uniqueNode(t)
				ex := h.New(t, node)
				spec.JobID, spec.Node, spec.Image = newJobID(), node, executors.Image{Name: h.Image, PullPolicy: executors.PullNever}
				env = create(t, ex, spec)
			}
			st, ok := env.(executors.Stopper)
			if !ok {
				t.Fatalf("%T does not implement executors.Stopper: the agent could not stop a finished job before its slot's next one", env)
			}
			if out := mustRun(t, env, writer); out != "started\n" {
				t.Fatalf("starting the writer: %q", out)
			}
			tick := filepath.Join(rw, "tick")
			waitFor(t, func() bool { fi, err := os.Stat(tick); return err == nil && fi.Size() > 0 }, 30*time.Second,
				"the job's background writer to write")
			ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
			defer cancel()
			if err := st.Stop(ctx); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			size := func() int64 {
				fi, err := os.Stat(tick)
				if err != nil {
					t.Fatal(err)
				}
				return fi.Size()
			}
			before := size()
			time.Sleep(400 * time.Millisecond) // the writer writes without pause
			if after := size(); after != before {
				t.Fatalf("a process of the job still writes after Stop returned (%d → %d bytes)", before, after)
			}
			if _, err := env.Exec(ctx, executors.Step{Script: "true"}, &syncBuffer{}); !errors.Is(err, executors.ErrEnvClosed) {
				t.Errorf("Exec after Stop: %v, want executors.ErrEnvClosed", err)
			}
			if err := st.Stop(ctx); err != nil {
				t.Errorf("second Stop: %v", err)
			}
			if err := env.Close(ctx); err != nil {
				t.Fatalf("Close after Stop: %v", err)
			}
			if left := h.Leftovers(t, node); len(left) != 0 {
				t.Errorf("after Stop and Close, still labelled for the node: %q", left)
			}
		})
	}
}
