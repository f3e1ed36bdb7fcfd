package github_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors/docker"
	"github.com/runfleet/runfleet/runner/github"
)

// lockedBuffer collects a runner's output from its goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// toolCacheProbe runs in the runner container instead of the runner: it
// uses a cached tool, tries to change it, and installs another.
const toolCacheProbe = `echo "cached=$(cat $RUNNER_TOOL_CACHE/node/18.0.0/x64/VERSION)"
test -f $RUNNER_TOOL_CACHE/node/18.0.0/x64.complete && echo complete=yes
if (echo poisoned > $RUNNER_TOOL_CACHE/node/18.0.0/x64/VERSION) 2>/dev/null; then echo change-cached=ok; else echo change-cached=denied; fi
if (rm -rf /opt/runfleet/toolcache/node && rm -rf $RUNNER_TOOL_CACHE/node/18.0.0/x64) 2>/dev/null; then echo remove-cached=ok; else echo remove-cached=denied; fi
mkdir -p $RUNNER_TOOL_CACHE/go/1.22.0/x64 && touch $RUNNER_TOOL_CACHE/go/1.22.0/x64.complete && echo install=ok
`

// TestToolCacheReadOnlyUnlessWritable: with a real engine, a runner's job
// uses the shared tool cache and installs tools of its own, but changes
// nothing other runners see unless the cache is writable for it.
func TestToolCacheReadOnlyUnlessWritable(t *testing.T) {
	bridgeGateway(t) // fails loudly without Docker or the stub image
	tests := []struct {
		name     string
		writable bool
		want     []string
	}{
		{"read-only by default", false, []string{"cached=node-18", "complete=yes", "change-cached=denied", "remove-cached=denied", "install=ok"}},
		{"writable when enabled", true, []string{"cached=node-18", "complete=yes", "install=ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := "gh-unit-toolcache-" + strings.ToLower(strings.ReplaceAll(tt.name, " ", "-"))
			ex, err := docker.New(docker.Options{Node: node, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ex.Reap(context.Background()); ex.Close() })
			shared := t.TempDir()
			version := filepath.Join(shared, "node", "18.0.0", "x64", "VERSION")
			if err := os.MkdirAll(filepath.Dir(version), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(version, []byte("node-18\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(shared, "node", "18.0.0", "x64.complete"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			out := &lockedBuffer{}
			l := &github.RunnerLauncher{Executor: ex, Node: node, Image: stubImage, PullPolicy: "never",
				StateDir: t.TempDir(), ToolCacheDir: shared, ToolCacheWritable: tt.writable,
				Command: toolCacheProbe, Output: func(string) io.Writer { return out }}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			r, err := l.Launch(ctx, node, "jit-config-unused-by-the-probe")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close(context.WithoutCancel(ctx))
			select {
			case <-r.Done():
			case <-ctx.Done():
				t.Fatalf("the probe did not end within 2 minutes; output:\n%s", out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("want %s; output:\n%s", w, out.String())
				}
			}
			got, err := os.ReadFile(version)
			if err != nil && !tt.writable {
				t.Fatalf("the shared tool is gone: %v", err)
			}
			_, goErr := os.Stat(filepath.Join(shared, "go", "1.22.0", "x64.complete"))
			if !tt.writable && (string(got) != "node-18\n" || goErr == nil) {
				t.Errorf("a job changed the read-only tool cache: VERSION %q, installed go: %v", got, goErr == nil)
			}
			if tt.writable && goErr != nil {
				t.Errorf("a job could not install into the writable tool cache: %v", goErr)
			}
		})
	}
}
