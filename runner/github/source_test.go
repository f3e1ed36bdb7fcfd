package github_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/docker"
	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/githubtest"
)

const stubImage = "runfleet/github-runner-stub:latest"

// dockerClient is a client of the host's Docker engine, closed with the
// test, and a context for its calls bounded at 10 s.
func dockerClient(t *testing.T) (*client.Client, context.Context) {
	t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c, ctx
}

// bridgeGateway is the host's address on Docker's default bridge: runner
// containers reach the fake GitHub there.
func bridgeGateway(t *testing.T) string {
	t.Helper()
	c, ctx := dockerClient(t)
	n, err := c.NetworkInspect(ctx, "bridge", network.InspectOptions{})
	if err != nil {
		t.Fatalf("the Docker engine does not answer (needed by this test): %v", err)
	}
	for _, cfg := range n.IPAM.Config {
		gw := net.ParseIP(cfg.Gateway)
		if _, subnet, err := net.ParseCIDR(cfg.Subnet); gw == nil && err == nil && subnet.IP.To4() != nil {
			// Not every engine reports the gateway: Docker's default is the
			// subnet's first address.
			gw = slices.Clone(subnet.IP.To4())
			gw[3]++
		}
		if gw != nil && gw.To4() != nil {
			if _, err := c.ImageInspect(ctx, stubImage); err != nil {
				t.Fatalf("image %s is missing: run 'make images' (%v)", stubImage, err)
			}
			return gw.String()
		}
	}
	t.Fatal("docker bridge has no IPv4 gateway")
	return ""
}

// nodeContainers names the containers labelled for node.
func nodeContainers(t *testing.T, node string) []string {
	t.Helper()
	c, ctx := dockerClient(t)
	cs, err := c.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", executors.LabelNode+"="+node))})
	if err != nil {
		t.Fatalf("listing the node's containers: %v", err)
	}
	var names []string
	for _, x := range cs {
		names = append(names, strings.Join(x.Names, ","))
	}
	return names
}

type fixture struct {
	srv      *githubtest.Server
	client   *github.Client
	src      *github.Source
	launcher *github.RunnerLauncher
	node     string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	gw := bridgeGateway(t)
	srv := githubtest.New(t, githubtest.WithListenAddress(gw+":0"))
	srv.AddRepo("acme/app")
	key := srv.AddApp(42, 4242, "acme")
	cl, err := github.NewClient(github.ClientOptions{URL: srv.URL() + "/acme", Auth: github.Auth{AppID: 42, InstallationID: 4242, PrivateKey: key}})
	if err != nil {
		t.Fatal(err)
	}
	node := "gh-unit-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	ex, err := docker.New(docker.Options{Node: node, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ex.Reap(context.Background())
		ex.Close()
	})
	l := &github.RunnerLauncher{Executor: ex, Node: node, Image: stubImage, PullPolicy: "never",
		StateDir: t.TempDir(), ToolCacheDir: t.TempDir()}
	src, err := github.NewSource(github.SourceOptions{
		API: cl, Node: node, Labels: []string{"self-hosted", "linux", "x64"}, Launcher: l,
	})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{srv: srv, client: cl, src: src, launcher: l, node: node}
}

func TestSourceRunsOneJobAndLeavesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	id := f.srv.Enqueue(githubtest.JobSpec{Repo: "acme/app", Labels: []string{"self-hosted", "linux"},
		Script: []string{"echo hello from $RUNFLEET_RUNNER_NAME", "test -n \"$RUNNER_TOOL_CACHE\""}})
	job, err := f.src.Acquire(ctx, runner.Slot{Source: "github", Index: 0})
	if err != nil {
		t.Fatal(err)
	}
	out := job.Run(ctx)
	if out.State != "success" {
		t.Fatalf("outcome %+v", out)
	}
	j := f.srv.WaitCompleted(t, id, time.Minute)
	if j.Conclusion != "success" || !strings.Contains(j.Output, "hello from "+f.node) {
		t.Fatalf("job %+v", j)
	}
	if rs := f.srv.Runners(); len(rs) != 0 {
		t.Fatalf("registrations left: %+v", rs)
	}
	// The exited runner's container goes in Cleanup, which the agent runs
	// once the slot is free.
	if n := len(nodeContainers(t, f.node)); n != 1 {
		t.Fatalf("after Run the node has %d containers, want the exited runner's", n)
	}
	c, ok := job.(runner.Cleaner)
	if !ok {
		t.Fatal("a label-mode job is not a runner.Cleaner")
	}
	if err := c.Cleanup(ctx); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if cs := nodeContainers(t, f.node); len(cs) != 0 {
		t.Fatalf("containers left after Cleanup: %v", cs)
	}
	if env := os.Getenv("ACTIONS_RUNNER_INPUT_JITCONFIG"); env != "" {
		t.Fatal("test environment leaks a JIT config")
	}
}

func TestSourceStopsIdleRunnerWithoutGhost(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := f.src.Acquire(ctx, runner.Slot{Source: "github", Index: 1})
		done <- err
	}()
	f.srv.WaitRunners(t, time.Minute, "an idle runner online", func(rs []githubtest.RunnerInfo) bool {
		return len(rs) == 1 && rs[0].Status == "online"
	})
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Acquire returned a job after cancellation with no job queued")
		}
	case <-time.After(time.Minute):
		t.Fatal("timed out waiting for Acquire to return after its context ended")
	}
	if rs := f.srv.Runners(); len(rs) != 0 {
		t.Fatalf("ghost registrations: %+v", rs)
	}
}

// TestSourceOutcomeIsGitHubsConclusion: a job whose script fails ends
// "failed" although the runner container exits 0 — the hooks name the
// run and GitHub's conclusion counts, not the exit code.
func TestSourceOutcomeIsGitHubsConclusion(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	id := f.srv.Enqueue(githubtest.JobSpec{Repo: "acme/app", Labels: []string{"self-hosted"}, Script: []string{"echo about to fail", "exit 3"}})
	job, err := f.src.Acquire(ctx, runner.Slot{Source: "github", Index: 0})
	if err != nil {
		t.Fatal(err)
	}
	out := runJob(t, ctx, job)
	if j := f.srv.WaitCompleted(t, id, time.Minute); j.Conclusion != "failure" {
		t.Fatalf("job %+v", j)
	}
	if out.State != "failed" || out.FailureReason != "script_failure" {
		t.Fatalf("outcome %+v, want failed/script_failure", out)
	}
}

// TestSourceRunnerWithoutHooks: a runner image without runfleet's hooks
// gives no job-started event; when its container exits after a job, the
// registration (gone: JIT runners unregister after their job) tells that
// it took one, so it is not reported as having exited idle.
func TestSourceRunnerWithoutHooks(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	src, err := github.NewSource(github.SourceOptions{
		API: f.client, Node: f.node, Labels: []string{"self-hosted", "linux", "x64"},
		Launcher: &github.RunnerLauncher{Executor: f.launcher.Executor, Node: f.node, Image: stubImage, PullPolicy: "never",
			StateDir: t.TempDir(), Command: "unset ACTIONS_RUNNER_HOOK_JOB_STARTED ACTIONS_RUNNER_HOOK_JOB_COMPLETED; exec /home/runner/run.sh"},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := f.srv.Enqueue(githubtest.JobSpec{Repo: "acme/app", Labels: []string{"self-hosted"}, Script: []string{"echo no hooks here"}})
	job, err := src.Acquire(ctx, runner.Slot{Source: "github", Index: 0})
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	out := runJob(t, ctx, job)
	if j := f.srv.WaitCompleted(t, id, time.Minute); j.Conclusion != "success" || !strings.Contains(j.Output, "no hooks here") {
		t.Fatalf("job %+v", j)
	}
	if out.State != "success" {
		t.Fatalf("outcome %+v", out)
	}
	if rs := f.srv.Runners(); len(rs) != 0 {
		t.Fatalf("registrations left: %+v", rs)
	}
}

// lateMint is a mint request the slot gives up while it is in flight:
// MintJIT cancels the Acquire, waits until Acquire has returned and only
// then registers the runner on GitHub, answering with the JIT config or,
// when loseAnswer, with an error (the answer lost on the way back).
type lateMint struct {
	*github.Client
	cancel     context.CancelFunc
	returned   chan struct{}
	loseAnswer bool
	minted     chan struct{}
}

func (l lateMint) MintJIT(ctx context.Context, req github.JITRequest) (github.JITConfig, error) {
	l.cancel()
	select {
	case <-l.returned:
	case <-ctx.Done():
		return github.JITConfig{}, fmt.Errorf("the mint's own context ended before Acquire returned: %w", ctx.Err())
	}
	jit, err := l.Client.MintJIT(ctx, req)
	close(l.minted)
	if err != nil || l.loseAnswer {
		return github.JITConfig{}, errors.Join(err, errors.New("connection reset by peer"))
	}
	return jit, nil
}

// TestSourceCancelledMintLeavesNoRegistration: a slot cancelled while its
// JIT config was being minted (shutdown, or its slot given to another
// source) returns at once, and the registration GitHub makes after that,
// whether its answer arrives or is lost, is deleted.
func TestSourceCancelledMintLeavesNoRegistration(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name       string
		loseAnswer bool
	}{
		{"answer arrives after the cancel", false},
		{"answer lost", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			api := lateMint{Client: f.client, cancel: cancel, returned: make(chan struct{}), loseAnswer: tc.loseAnswer, minted: make(chan struct{})}
			src, err := github.NewSource(github.SourceOptions{
				API: api, Node: f.node, Labels: []string{"self-hosted"}, Launcher: f.launcher,
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := src.Acquire(ctx, runner.Slot{Source: "github", Index: 2}); !errors.Is(err, context.Canceled) {
				t.Fatalf("Acquire after its slot was given up: %v, want context.Canceled", err)
			}
			close(api.returned)
			select {
			case <-api.minted:
			case <-time.After(time.Minute):
				t.Fatal("timed out after 1m waiting for the late mint to register the runner")
			}
			deadline := time.Now().Add(time.Minute)
			for len(f.srv.Runners()) != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("registrations left by a cancelled mint after 1m: %+v", f.srv.Runners())
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// blockedMint never answers until its context ends.
type blockedMint struct{ *github.Client }

func (blockedMint) MintJIT(ctx context.Context, _ github.JITRequest) (github.JITConfig, error) {
	<-ctx.Done()
	return github.JITConfig{}, ctx.Err()
}

// TestSourceRemoveStaleWaitsForCancelledMints: RemoveStale (at shutdown,
// after every slot stopped) does not list registrations while a cancelled
// slot's mint may still add one; it gives up when its context ends.
func TestSourceRemoveStaleWaitsForCancelledMints(t *testing.T) {
	f := newFixture(t)
	src, err := github.NewSource(github.SourceOptions{
		API: blockedMint{f.client}, Node: f.node, Labels: []string{"self-hosted"}, Launcher: f.launcher,
		CleanupTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := src.Acquire(ctx, runner.Slot{Source: "github", Index: 0}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire: %v, want its context's deadline", err)
	}
	rctx, rcancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer rcancel()
	if err := src.RemoveStale(rctx); err == nil || !strings.Contains(err.Error(), "waiting for the mints of cancelled slots") {
		t.Fatalf("RemoveStale with a mint in flight: %v", err)
	}
}

// runJob runs job and then its engine cleanup, as the agent does once
// the slot is free (runner.Cleaner): nothing of the job is left.
func runJob(t *testing.T, ctx context.Context, job runner.Job) runner.Outcome {
	t.Helper()
	out := job.Run(ctx)
	if c, ok := job.(runner.Cleaner); ok {
		if err := c.Cleanup(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("job cleanup: %v", err)
		}
	}
	return out
}
