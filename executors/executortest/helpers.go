package executortest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// uniqueNode returns a node name no other test uses.
func uniqueNode(t *testing.T) string {
	name := strings.ToLower(unsafeChars.ReplaceAllString(t.Name(), "-"))
	if len(name) > 30 {
		name = name[len(name)-30:]
	}
	return "rft-" + strings.Trim(name, "-") + "-" + randHex(4)
}

// newJobID returns a unique job ID usable in object names.
func newJobID() string { return "j" + randHex(8) }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// baseSpec is a minimal spec for h's image on node.
func baseSpec(h Harness, node string) executors.Spec {
	return executors.Spec{
		JobID: newJobID(),
		Node:  node,
		Image: executors.Image{Name: h.Image, PullPolicy: executors.PullNever},
	}
}

// setup returns a fresh executor for a unique node and an Env for spec
// (JobID, Node and Image filled in when empty), closed at cleanup.
func setup(t *testing.T, h Harness, spec executors.Spec) (executors.Executor, executors.Env) {
	t.Helper()
	node := uniqueNode(t)
	ex := h.New(t, node)
	base := baseSpec(h, node)
	if spec.JobID == "" {
		spec.JobID = base.JobID
	}
	spec.Node = node
	if spec.Image.Name == "" {
		spec.Image = base.Image
	}
	return ex, create(t, ex, spec)
}

// create makes an Env or fails the test, and closes it at cleanup.
func create(t *testing.T, ex executors.Executor, spec executors.Spec) executors.Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	env, err := ex.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create(%s): %v", spec.JobID, err)
	}
	t.Cleanup(func() { closeEnv(t, env) })
	return env
}

// closeEnv closes env, failing the test on error. t.Context is already
// cancelled during cleanup, which Close must tolerate.
func closeEnv(t *testing.T, env executors.Env) {
	t.Helper()
	if err := env.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// run executes step, failing the test on an error, and returns the result
// and the combined output.
func run(t *testing.T, env executors.Env, step executors.Step) (executors.Result, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	var out syncBuffer
	res, err := env.Exec(ctx, step, &out)
	if err != nil {
		t.Fatalf("Exec(%q): %v (output %q)", step.Script, err, out.String())
	}
	return res, out.String()
}

// mustRun runs script and fails the test unless it exits 0.
func mustRun(t *testing.T, env executors.Env, script string) string {
	t.Helper()
	res, out := run(t, env, executors.Step{Script: script})
	if res.ExitCode != 0 {
		t.Fatalf("%q exited %d, output:\n%s", script, res.ExitCode, out)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
