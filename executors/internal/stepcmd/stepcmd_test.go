package stepcmd

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

func TestArgv(t *testing.T) {
	for _, tc := range []struct {
		step executors.Step
		want []string
	}{
		{executors.Step{Script: "echo x"}, []string{"sh", "-c", "exec 2>&1\necho x"}},
		{executors.Step{Shell: []string{"/bin/bash", "-ec"}, Script: "x"}, []string{"/bin/bash", "-ec", "exec 2>&1\nx"}},
		{executors.Step{Shell: []string{"pwsh", "-Command"}, Script: "x"}, []string{"pwsh", "-Command", "x"}},
		{executors.Step{Shell: []string{"python3", "-c"}, Script: "x"}, []string{"python3", "-c", "x"}},
	} {
		if got := Argv(tc.step); !slices.Equal(got, tc.want) {
			t.Errorf("Argv(%+v) = %q, want %q", tc.step, got, tc.want)
		}
	}
}

func TestProgramRefuses(t *testing.T) {
	const end = "runfleet-step-x"
	for _, tc := range []struct {
		name string
		step executors.Step
	}{
		{"name with a dash", executors.Step{Script: "true", Env: []string{"A-B=1"}}},
		{"name with a digit first", executors.Step{Script: "true", Env: []string{"1A=1"}}},
		{"NUL", executors.Step{Script: "echo \x00"}},
		{"other user", executors.Step{Script: "true", User: "0"}},
		{"end line", executors.Step{Script: "true\n" + end + "\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Program(tc.step, "/", "1000", end); !errors.Is(err, executors.ErrStepUnfit) {
				t.Fatalf("Program = %v, want ErrStepUnfit", err)
			}
		})
	}
}

// TestProgramRuns feeds programs to Reader in the host's sh, as a waiting
// container would read them: hostile values arrive unchanged.
func TestProgramRuns(t *testing.T) {
	end, err := NewEndLine()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		step executors.Step
		want string
	}{
		{"plain", executors.Step{Script: `echo "$A" "$(pwd)"`, Env: []string{"A=1"}}, "1 " + dir + "\n"},
		{"quotes and newlines", executors.Step{Script: `printf '%s|' "$A"`, Env: []string{"A=it's\n'a' \"b\" $(x) `y` \\"}},
			"it's\n'a' \"b\" $(x) `y` \\|"},
		{"leading spaces and backslashes kept", executors.Step{Script: `printf '%s|' "$A"`, Env: []string{"A=  x\\n\\\n y  "}}, "  x\\n\\\n y  |"},
		{"stdin is empty", executors.Step{Script: `cat; echo eof`}, "eof\n"},
		{"exit status", executors.Step{Script: `echo out; echo err >&2; exit 7`}, "out\nerr\n"},
		{"value equal to another end line", executors.Step{Script: `echo "$A"`, Env: []string{"A=runfleet-step-0"}}, "runfleet-step-0\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog, err := Program(tc.step, dir, "", end)
			if err != nil {
				t.Fatal(err)
			}
			// What follows the end line stays unread by the step.
			cmd := exec.Command("sh", "-c", "M=$1; "+Reader+`; eval "$p"`, "sh", end)
			cmd.Stdin = strings.NewReader(string(prog) + "not for the step\n")
			out, err := cmd.Output()
			if string(out) != tc.want {
				t.Errorf("output %q, want %q (err %v)\nprogram:\n%s", out, tc.want, err, prog)
			}
			var ee *exec.ExitError
			if tc.name == "exit status" && (!errors.As(err, &ee) || ee.ExitCode() != 7) {
				t.Errorf("exit: %v, want status 7", err)
			}
		})
	}
}
