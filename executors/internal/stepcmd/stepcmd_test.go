package stepcmd

import (
	"errors"
	"os"
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
		{"end line in a value", executors.Step{Script: "true", Env: []string{"A=x\n" + end + "\ny"}}},
		{"entry without a value", executors.Step{Script: "true", Env: []string{"A"}}},
		{"reserved name", executors.Step{Script: "true", Env: []string{"__rf_p=1"}}},
		{"bash read-only name", executors.Step{Script: "true", Env: []string{"UID=1"}}},
		{"too large", executors.Step{Script: strings.Repeat("x", MaxProgram)}},
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
		{"the reader's variables are not the step's", executors.Step{Script: `echo "[$__rf_p$__rf_l$__rf_ok$__rf_M]"`}, "[]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog, err := Program(tc.step, dir, "", end)
			if err != nil {
				t.Fatal(err)
			}
			// What follows the end line stays unread by the step.
			cmd := exec.Command("sh", "-c", "__rf_M=$1; "+Reader+`; eval "$__rf_p"`, "sh", end)
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

// TestReaderNeedsEndLine: a program cut short (stdin ended before the end
// line) runs nothing, and the wrappers' variables in the container's
// environment do not reach the step.
func TestReaderNeedsEndLine(t *testing.T) {
	end, err := NewEndLine()
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Program(executors.Step{Script: `echo "ran:$__rf_p:$p"`}, "/", "", end)
	if err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, env ...string) (string, error) {
		cmd := exec.Command("sh", "-c", "__rf_M=$1; "+Reader+`; eval "$__rf_p"`, "sh", end)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		return string(out), err
	}
	cut := strings.TrimSuffix(string(prog), end+"\n")
	out, err := run(cut)
	var ee *exec.ExitError
	if out != "" || !errors.As(err, &ee) || ee.ExitCode() != 125 {
		t.Errorf("a program without its end line: output %q, %v; want nothing run, exit 125", out, err)
	}
	if out, err := run(string(prog), "__rf_p=from-env", "p=kept"); out != "ran::kept\n" || err != nil {
		t.Errorf("with __rf_p and p in the environment: %q, %v; want \"ran::kept\"", out, err)
	}
}

func TestProgramWithoutEndLine(t *testing.T) {
	if _, err := Program(executors.Step{Script: "true"}, "/", "", ""); !errors.Is(err, executors.ErrFirstStepUsed) {
		t.Fatalf("Program for a container that waits for no step: %v, want ErrFirstStepUsed", err)
	}
}
