// Package stepcmd turns an executors.Step into what a job container runs:
// the argv of a step (Argv), and the program that a job container created
// before its step was known reads from its stdin (Program, Reader).
package stepcmd

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
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
// step's program: the lines of its stdin up to the one equal to "$M" (the
// end line, set by the caller), into "$p". It uses shell built-ins only,
// so it runs in any image with a POSIX sh.
const Reader = `p=; while IFS= read -r l; do [ "$l" = "$M" ] && break; p="$p$l
"; done`

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

// envName is a name that sh's export takes.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Program returns what a waiting job container (see Reader) evaluates to
// run step: change to the step's directory (dir when the step has none),
// export its environment over the container's, and exec its argv in
// place of the shell with stdin from /dev/null. It ends with the end
// line. A step that cannot be put so (an environment
// name sh cannot export, a NUL byte, a user other than the container's,
// the end line in its text) is refused with executors.ErrStepUnfit.
func Program(step executors.Step, dir, user, end string) ([]byte, error) {
	if step.User != "" && step.User != user {
		return nil, fmt.Errorf("step user %q is not the container's %q: %w", step.User, user, executors.ErrStepUnfit)
	}
	if step.WorkDir != "" {
		dir = step.WorkDir
	}
	var b strings.Builder
	if dir != "" {
		fmt.Fprintf(&b, "cd -- %s || exit 1\n", Quote(dir))
	}
	for _, kv := range step.Env {
		k, v, _ := strings.Cut(kv, "=")
		if !envName.MatchString(k) {
			return nil, fmt.Errorf("environment name %q: %w", k, executors.ErrStepUnfit)
		}
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
	if end == "" {
		return nil, errors.New("stepcmd: empty end line")
	}
	return []byte(prog + end + "\n"), nil
}

// Quote quotes s for sh: in single quotes, each quote in s closed, escaped and reopened.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
