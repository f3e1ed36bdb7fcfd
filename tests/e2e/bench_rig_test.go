package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/runfleet/runfleet/executors/enginebench"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// benchRig is one engine the agent's benchmarks run on, with that
// engine's raw baselines measured in the same run.
type benchRig struct {
	name string
	// start runs an agent with concurrent slots against srv on the
	// engine, with runner's TOML lines added to its [[runners]] table.
	start func(b *testing.B, srv *gitlabtest.Server, concurrent int, runner string) *agent
	// firstByte is the engine API alone: create + start a container until
	// its first output byte.
	firstByte func() time.Duration
	// lifecycle is the engine API alone: a container created, started,
	// exited and removed.
	lifecycle func() time.Duration
}

// benchRigs are Docker and containerd. Either daemon missing fails the
// benchmark.
func benchRigs(b *testing.B) []benchRig {
	ctx := b.Context()
	node := nodeName(b) + "-raw"
	b.Cleanup(func() { reapNode(b, node) })
	raw := enginebench.Docker{Client: dockerClient(b), Image: testImage, Labels: enginebench.ManagedLabels(node)}
	names := importInto(b, ctrdNamespace, testImage, helperImage)
	cc, err := ctrd.New(containerdAddress(), ctrd.WithTimeout(10*time.Second))
	if err != nil {
		b.Fatalf("containerd (CONTAINERD_ADDRESS=%q): %v", containerdAddress(), err)
	}
	b.Cleanup(func() { cc.Close() })
	var img ctrd.Image
	for _, n := range names {
		if strings.HasSuffix(n, testImage) {
			if img, err = cc.GetImage(namespaces.WithNamespace(ctx, ctrdNamespace), n); err != nil {
				b.Fatal(err)
			}
		}
	}
	if img == nil {
		b.Fatalf("%s not among the images imported into containerd: %q", testImage, names)
	}
	rawC := enginebench.Containerd{Client: cc, Namespace: ctrdNamespace, Image: img, Labels: enginebench.ManagedLabels(node)}
	n := 0
	id := func() string { n++; return fmt.Sprintf("%s-%d", node, n) }
	must := func(d time.Duration, err error) time.Duration {
		if err != nil {
			b.Fatalf("raw engine baseline: %v", err)
		}
		return d
	}
	return []benchRig{
		{
			name: "docker",
			start: func(b *testing.B, srv *gitlabtest.Server, concurrent int, runner string) *agent {
				return startAgent(b, srv, agentConfig{Concurrent: concurrent, Runner: runner})
			},
			firstByte: func() time.Duration { return must(raw.FirstByte(ctx)) },
			lifecycle: func() time.Duration { return must(raw.Lifecycle(ctx)) },
		},
		{
			name: "containerd",
			start: func(b *testing.B, srv *gitlabtest.Server, concurrent int, runner string) *agent {
				return startContainerdAgent(b, srv, concurrent, runner)
			},
			firstByte: func() time.Duration { return must(rawC.FirstByte(ctx, id())) },
			lifecycle: func() time.Duration { return must(rawC.Lifecycle(ctx, id())) },
		},
	}
}

// startContainerdAgent runs `runner run` with executor "containerd" and
// the Docker agent's limits (writeConfig), in the e2e namespace, with
// runner's TOML lines added to its [[runners]] table.
func startContainerdAgent(b testing.TB, srv *gitlabtest.Server, concurrent int, runner string) *agent {
	b.Helper()
	tok := fmt.Sprintf("glrt-%020d", time.Now().UnixNano()%1e12*7901)
	srv.AddRunner(tok)
	dir := b.TempDir()
	node := nodeName(b)
	metrics := freePort(b)
	cfg := ctrdAgent{name: "e2e-bench", url: srv.URL(), token: tok, node: node, metrics: metrics, dir: dir, concurrent: concurrent,
		runner: runner, containerd: []string{`memory = "256m"`, "pids_limit = 512"}}.config()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	return startCtrdAgent(b, path, node, dir, metrics)
}

// waitHanded waits until job id was handed out and returns the kernel's
// uptime then. It waits on the server's signal, not by polling: a poll
// loop would take CPU from the agent being measured.
func waitHanded(b testing.TB, srv *gitlabtest.Server, id int64) time.Duration {
	return waitSignal(b, srv.Handed(id), time.Minute, fmt.Sprintf("job %d to be handed out", id))
}

// waitAcked waits until GitLab acknowledged job id's final state and
// returns the kernel's uptime then (see waitHanded).
func waitAcked(b testing.TB, srv *gitlabtest.Server, id int64) time.Duration {
	return waitSignal(b, srv.Finished(id), 2*time.Minute, fmt.Sprintf("job %d to reach a final state", id))
}

// waitSignal waits for c to close, at most limit, and returns the
// kernel's uptime then.
func waitSignal(b testing.TB, c <-chan struct{}, limit time.Duration, what string) time.Duration {
	b.Helper()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-c:
		return uptime(b)
	case <-t.C:
		b.Fatalf("waited %v for %s", limit, what)
		return 0
	}
}

// rawFirstByte is the Docker baseline of the GitHub start benchmarks:
// the mean of five raw create+start+first byte runs.
func rawFirstByte(b *testing.B) time.Duration {
	node := nodeName(b) + "-raw"
	b.Cleanup(func() { reapNode(b, node) })
	raw := enginebench.Docker{Client: dockerClient(b), Image: testImage, Labels: enginebench.ManagedLabels(node)}
	const runs = 5
	var total time.Duration
	for range runs {
		d, err := raw.FirstByte(b.Context())
		if err != nil {
			b.Fatalf("raw engine baseline: %v", err)
		}
		total += d
	}
	return total / runs
}
