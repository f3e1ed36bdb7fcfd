// Package stepcmd turns an executors.Step into what a job container runs:
// the argv of a step (Argv), and the program that a job container created
// before its step was known reads from its stdin (Program, Reader).
package stepcmd

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/runfleet/runfleet/executors"
)

// posixShells are the shells whose -c scripts can start with "exec 2>&1".
var posixShells = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true, "ksh": true, "mksh": true, "zsh": true}

var dashC = regexp.MustCompile(`^-[a-zA-Z]*c$`)

// Argv returns the step's argv: the shell prefix and the script, which
// redirects stderr to stdout first when the shell is a POSIX one.
func Argv(step executors.Step) []string {
	shell := step.Shell
	if len(shell) == 0 {
		shell = []string{"sh", "-c"}
	}
	script := step.Script
	if len(shell) >= 2 && posixShells[path.Base(shell[0])] && dashC.MatchString(shell[len(shell)-1]) {
		script = "exec 2>&1\n" + script
	}
	return append(append([]string{}, shell...), script)
}

// Reader is the sh code with which a waiting job container reads its
// step's program: the lines of its stdin up to the one equal to
// "$__rf_M" (the end line, set by the caller), into "$__rf_p". Without
// the end line (stdin ended early: the agent died or gave up mid-write)
// it exits 125 and nothing of the program runs. It uses shell built-ins
// only, so it runs in any image with a POSIX sh; its variables carry the
// reserved prefix, which Program unsets and refuses in a step's
// environment, so the step never sees them.
const Reader = `__rf_p=; __rf_ok=; while IFS= read -r __rf_l; do [ "$__rf_l" = "$__rf_M" ] && { __rf_ok=1; break; }; __rf_p="$__rf_p$__rf_l
"; done; [ -n "$__rf_ok" ] || exit 125`

// reservedPrefix starts the names of the wrappers' own variables.
const reservedPrefix = "__rf_"

// MaxProgram bounds a program's size: sh's read takes a byte per system
// call from a pipe, so a larger step runs with Exec instead.
const MaxProgram = 256 << 10

// bashReadonly are names bash (the sh of some images) will not let a
// script set: exporting one would end the shell before the step ran.
var bashReadonly = map[string]bool{"UID": true, "EUID": true, "PPID": true, "SHELLOPTS": true, "BASHOPTS": true, "BASH_VERSINFO": true}

// NewEndLine returns a random end line for Reader, chosen when the
// container is created: the step's program, written later by the agent,
// cannot contain it by chance, and Program refuses a step that does.
func NewEndLine() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random end line: %w", err)
	}
	return "runfleet-step-" + hex.EncodeToString(b[:]), nil
}

// First asks an executor's create for a first-step container: with its
// step, or Late, the step given to RunFirstStep.
type First struct {
	Step executors.Step
	Late bool
}

// GateLine opens the gate of a first step given at creation: its
// wrapper waits for a line, so a stdin that ends without one (the Env
// closed, or its agent gone) runs nothing.
var GateLine = []byte("\n")

// envName is a name that sh's export takes.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// fitName returns why sh cannot be given the environment entry kv, or
// "".
func fitName(kv string) string {
	k, _, ok := strings.Cut(kv, "=")
	switch {
	case !ok:
		return fmt.Sprintf("environment entry %q has no value", kv)
	case !envName.MatchString(k):
		return fmt.Sprintf("environment name %q is not a shell name", k)
	case strings.HasPrefix(k, reservedPrefix):
		return fmt.Sprintf("environment name %q is reserved", k)
	case bashReadonly[k]:
		return fmt.Sprintf("environment name %q is read-only in bash", k)
	}
	return ""
}

// Program returns what a waiting job container (see Reader) evaluates to
// run step: change to the step's directory (dir when the step has none),
// export its environment over the container's, and exec its argv in
// place of the shell with stdin from /dev/null. It ends with the end
// line. A step that cannot be put so (an environment entry sh cannot
// export, a NUL byte, a user other than the container's, the end line in
// its text, more than MaxProgram bytes) is refused with
// executors.ErrStepUnfit; an empty end (no container waits for a step)
// with executors.ErrFirstStepUsed.
func Program(step executors.Step, dir, user, end string) ([]byte, error) {
	if end == "" {
		return nil, fmt.Errorf("no late first step waits: %w", executors.ErrFirstStepUsed)
	}
	if step.User != "" && step.User != user {
		return nil, fmt.Errorf("step user %q is not the container's %q: %w", step.User, user, executors.ErrStepUnfit)
	}
	if step.WorkDir != "" {
		dir = step.WorkDir
	}
	var b strings.Builder
	b.WriteString("unset __rf_p __rf_l __rf_ok __rf_M __rf_m\n")
	if dir != "" {
		fmt.Fprintf(&b, "cd -- %s || exit 1\n", Quote(dir))
	}
	for _, kv := range step.Env {
		if why := fitName(kv); why != "" {
			return nil, fmt.Errorf("%s: %w", why, executors.ErrStepUnfit)
		}
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, Quote(v))
	}
	b.WriteString("exec")
	for _, a := range Argv(step) {
		b.WriteString(" ")
		b.WriteString(Quote(a))
	}
	b.WriteString(" </dev/null\n")
	prog := b.String()
	if strings.IndexByte(prog, 0) >= 0 {
		return nil, fmt.Errorf("a NUL byte in the step: %w", executors.ErrStepUnfit)
	}
	for _, line := range strings.Split(prog, "\n") {
		if line == end {
			return nil, fmt.Errorf("the step contains the end line: %w", executors.ErrStepUnfit)
		}
	}
	if len(prog) > MaxProgram {
		return nil, fmt.Errorf("the step is %d bytes, more than %d: %w", len(prog), MaxProgram, executors.ErrStepUnfit)
	}
	return []byte(prog + end + "\n"), nil
}

// Quote quotes s for sh: in single quotes, each quote in s closed, escaped and reopened.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
