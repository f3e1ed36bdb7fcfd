package executortest

import (
	"strings"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

var execCases = []testCase{
	{"ExitCodes", testExitCodes},
	{"OutputOrder", testOutputOrder},
	{"EnvAndWorkDir", testEnvAndWorkDir},
}

func testExitCodes(t *testing.T, h Harness) {
	_, env := setup(t, h, executors.Spec{})
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"true", 0},
		{"echo fail; exit 1", 1},
		{"exit 42", 42},
		{"false", 1},
	} {
		res, out := run(t, env, executors.Step{Script: tc.script})
		if res.ExitCode != tc.want {
			t.Errorf("%q: exit %d, want %d (output %q)", tc.script, res.ExitCode, tc.want, out)
		}
		if res.OOMKilled {
			t.Errorf("%q: OOMKilled set on an ordinary exit", tc.script)
		}
	}
}

func testOutputOrder(t *testing.T, h Harness) {
	_, env := setup(t, h, executors.Spec{})
	const script = "echo a; echo b >&2; echo c; echo d >&2; echo e"
	for i := range 5 {
		_, out := run(t, env, executors.Step{Script: script})
		if out != "a\nb\nc\nd\ne\n" {
			t.Fatalf("run %d: stdout/stderr order lost: got %q, want %q", i, out, "a\nb\nc\nd\ne\n")
		}
	}
	// Large output arrives complete and in order.
	out := mustRun(t, env, "seq 1 20000")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 20000 || lines[0] != "1" || lines[19999] != "20000" {
		t.Fatalf("seq 1 20000: got %d lines (first %q)", len(lines), lines[0])
	}
}

func testEnvAndWorkDir(t *testing.T, h Harness) {
	_, env := setup(t, h, executors.Spec{
		Env:     []string{"A=spec-a", "B=spec-b"},
		WorkDir: "/work/dir",
	})
	for _, tc := range []struct {
		name string
		step executors.Step
		want string
	}{
		{"spec", executors.Step{Script: `echo "$A $B $(pwd)"`}, "spec-a spec-b /work/dir\n"},
		{"step overrides", executors.Step{
			Script:  `echo "$A $B $C $(pwd)"`,
			Env:     []string{"B=step-b", "C=step-c"},
			WorkDir: "/tmp",
		}, "spec-a step-b step-c /tmp\n"},
		{"shell", executors.Step{Shell: []string{"/bin/sh", "-c"}, Script: `echo "$A"`}, "spec-a\n"},
		{"user", executors.Step{Script: `id -u`, User: "65534"}, "65534\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, out := run(t, env, tc.step)
			if res.ExitCode != 0 || out != tc.want {
				t.Errorf("exit %d, output %q; want 0, %q", res.ExitCode, out, tc.want)
			}
		})
	}
}
