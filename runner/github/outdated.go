package github

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/runfleet/runfleet/runner/github/runnerversion"
)

// ConditionRunnerOutdated is the node condition raised while GitHub
// refuses the runner version of a source's image.
const ConditionRunnerOutdated = "RunnerOutdated"

// ErrRunnerOutdated: GitHub refused the runner in the image as outdated.
var ErrRunnerOutdated = errors.New("runner version refused by GitHub")

// RunnerOutdatedError says which image carries the refused runner and how
// to fix it. errors.Is(err, ErrRunnerOutdated) holds.
type RunnerOutdatedError struct {
	Image   string
	Version string // as GitHub named it
}

func (e *RunnerOutdatedError) Error() string {
	return fmt.Sprintf("github: GitHub refuses runner %s of image %s (%q): %s",
		e.Version, e.Image, runnerversion.Deprecated(e.Version), runnerversion.Fix(e.Image))
}

func (e *RunnerOutdatedError) Is(target error) bool { return target == ErrRunnerOutdated }

// refusalWatch passes a runner's output through and remembers the version
// GitHub refused, if the runner printed GitHub's refusal. Lines are
// examined whole up to 4 KiB.
type refusalWatch struct {
	out io.Writer

	mu      sync.Mutex
	line    []byte
	version string
}

const maxWatchedLine = 4 << 10

func (w *refusalWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			w.line = append(w.line, rest[:min(len(rest), maxWatchedLine-len(w.line))]...)
			break
		}
		w.line = append(w.line, rest[:min(i, maxWatchedLine-len(w.line))]...)
		w.checkLocked()
		rest = rest[i+1:]
	}
	w.mu.Unlock()
	return w.out.Write(p)
}

func (w *refusalWatch) checkLocked() {
	if v, ok := runnerversion.ParseDeprecated(string(w.line)); ok {
		w.version = v
	}
	w.line = w.line[:0]
}

// refused is the version GitHub refused ("" when none), including an
// unterminated last line.
func (w *refusalWatch) refused() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.line) > 0 {
		w.checkLocked()
	}
	return w.version
}
