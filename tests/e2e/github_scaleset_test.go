package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	actions "github.com/actions/scaleset"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/docker"
	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/scaleset"
	"github.com/runfleet/runfleet/runner/github/scalesettest"
)

const scalesetPAT = "ghp_e2eScaleSet0000000000000000000000"

// newScaleSetFake starts the fake scale-set service where runner
// containers reach it: on the host's address on Docker's default bridge.
func newScaleSetFake(t testing.TB) *scalesettest.Server {
	t.Helper()
	c := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.ImageInspect(ctx, githubStubImage); err != nil {
		t.Fatalf("image %s is missing: run 'make images' (%v)", githubStubImage, err)
	}
	return scalesettest.New(t, scalesettest.Options{Token: scalesetPAT, ListenAddress: bridgeGateway(t) + ":0", PollTimeout: 2 * time.Second})
}

func scalesetAPI(t testing.TB, fake *scalesettest.Server) *actions.Client {
	t.Helper()
	c, err := actions.NewClientWithPersonalAccessToken(actions.NewClientWithPersonalAccessTokenConfig{
		GitHubConfigURL: fake.ConfigURL("acme"), PersonalAccessToken: scalesetPAT,
	}, actions.WithRetryMax(2), actions.WithRetryWaitMax(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGitHubScaleSetJob: in scale-set mode the agent waits out a session
// held by another listener (409), re-creates its scale set after GitHub
// deleted it (404), and then runs a queued job end to end: the job is
// acquired from the message, a JIT config is generated on the scale set,
// the stand-in runner container takes the job and completes it, and the
// container and registration are gone afterwards.
func TestGitHubScaleSetJob(t *testing.T) {
	fake := newScaleSetFake(t)
	node := nodeName(t)
	ex, err := docker.New(docker.Options{Node: node, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close(); reapNode(t, node) })

	// A listener of a previous agent still holds the scale set's session.
	api := scalesetAPI(t, fake)
	old, err := api.CreateRunnerScaleSet(context.Background(), &actions.RunnerScaleSet{Name: "fleet-e2e", RunnerGroupID: 1,
		Labels: []actions.Label{{Name: "fleet-e2e", Type: "System"}}})
	if err != nil {
		t.Fatal(err)
	}
	release, ok := fake.HoldSession(old.ID, "crashed-agent")
	if !ok {
		t.Fatal("hold session")
	}

	l, err := scaleset.New(scaleset.Options{
		Config: scaleset.Config{Name: "fleet-e2e", Max: 2, MinIdle: 0, Slots: 1, Owner: node,
			ConflictWait: 200 * time.Millisecond, RetryWait: 200 * time.Millisecond},
		API: api,
		Launcher: scaleset.ContainerLauncher{Launcher: &github.RunnerLauncher{Executor: ex, Node: node,
			Image: githubStubImage, PullPolicy: "never", StateDir: t.TempDir(),
			Resources: executors.Resources{Memory: 256 << 20, PidsLimit: 512}}},
		Registerer: prometheus.NewRegistry(),
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runScaleSet(t, l, 1)

	owner := func() string {
		for _, s := range fake.ScaleSets() {
			return s.Session
		}
		return ""
	}
	waitFor(t, 30*time.Second, "a 409 on the held session", func() bool {
		for _, r := range fake.Requests() {
			if r.Status == 409 && strings.HasSuffix(r.Path, "/sessions") {
				return true
			}
		}
		return false
	})
	release()
	waitFor(t, 30*time.Second, "the session taken over", func() bool { return owner() == node })

	// GitHub deletes the scale set; the listener re-creates it.
	fake.DeleteScaleSet(old.ID)
	waitFor(t, 30*time.Second, "the scale set re-created with a session", func() bool {
		return l.ScaleSetID() != old.ID && l.ScaleSetID() != 0 && owner() == node
	})

	// Cold: no runner waits; the job brings one up.
	id := fake.QueueJob(scalesettest.Job{Labels: []string{"fleet-e2e"},
		Steps: []string{"echo scale-set job ran on $RUNFLEET_RUNNER_NAME", "test \"$(id -u)\" = 1001", "test -z \"$GITHUB_TOKEN\""}})
	var j scalesettest.JobStatus
	waitFor(t, 2*time.Minute, "the job completed", func() bool {
		j, _ = fake.Job(id)
		return j.State == scalesettest.JobCompleted
	})
	if j.Result != "succeeded" || !strings.Contains(j.Output, "scale-set job ran on "+node+"-") {
		t.Fatalf("job: %+v", j)
	}
	t.Logf("scale set, cold: queued→assigned %v, queued→runner took the job %v, run %v",
		j.AssignedAt.Sub(j.QueuedAt), j.StartedAt.Sub(j.QueuedAt), j.FinishedAt.Sub(j.StartedAt))
	waitFor(t, time.Minute, "the runner's container removed", func() bool { return runnerContainers(t, j.RunnerName) == 0 })
	if rs := fake.Runners(); len(rs) != 0 {
		t.Fatalf("registrations left after the job: %+v", rs)
	}
	if _, ok := l.Statistics(); !ok {
		t.Fatal("no statistics")
	}
	stop()
	if left := leftovers(t, node); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestGitHubScaleSetAgent: `runner run` with a [[github_scale_set]] table
// registers the scale set, keeps one idle runner (min_idle = 1), runs a
// queued job on it, and on shutdown leaves no registration and no
// container behind.
func TestGitHubScaleSetAgent(t *testing.T) {
	fake := newScaleSetFake(t)
	dir := t.TempDir()
	node := nodeName(t)
	cfgPath, metrics := scaleSetAgentConfig(t, fake, dir, node, "agent-fleet", "")
	a := startAgentWith(t, cfgPath, node, dir, metrics)
	waitFor(t, time.Minute, "an idle runner online", func() bool {
		rs := fake.Runners()
		return len(rs) == 1 && rs[0].Online && strings.HasPrefix(rs[0].Name, node+"-")
	})
	id := fake.QueueJob(scalesettest.Job{Labels: []string{"agent-fleet"}, Steps: []string{"echo ran on $RUNFLEET_RUNNER_NAME"}})
	var j scalesettest.JobStatus
	waitFor(t, 2*time.Minute, "the job completed", func() bool {
		j, _ = fake.Job(id)
		return j.State == scalesettest.JobCompleted
	})
	if j.Result != "succeeded" || !strings.Contains(j.Output, "ran on "+node) {
		t.Fatalf("job %+v", j)
	}
	t.Logf("scale set through the agent, warm: queued→runner took the job %v", j.StartedAt.Sub(j.QueuedAt))
	waitFor(t, time.Minute, "a fresh idle runner", func() bool {
		rs := fake.Runners()
		return len(rs) == 1 && rs[0].Online && rs[0].Name != j.RunnerName
	})
	if err := a.stop(time.Minute); err != nil {
		t.Fatalf("agent exit: %v\n%s", err, tail(a.out.String(), 4000))
	}
	if rs := fake.Runners(); len(rs) != 0 {
		t.Fatalf("registrations left after shutdown: %+v", rs)
	}
	if l := leftovers(t, node); len(l) != 0 {
		t.Fatalf("left behind after shutdown: %v", l)
	}
	if strings.Contains(a.out.String(), scalesetPAT) {
		t.Fatal("the token appears in the agent log")
	}
}

// scaleSetAgentConfig writes the config of a `runner run` of node with one
// [[github_scale_set]] table (min_idle = 1, limit 1) on fake, in dir;
// extra is more of the table (another executor).
func scaleSetAgentConfig(t testing.TB, fake *scalesettest.Server, dir, node, scaleSet, extra string) (path, metrics string) {
	t.Helper()
	metrics = freePort(t)
	tokFile := filepath.Join(dir, "gh-token")
	if err := os.WriteFile(tokFile, []byte(scalesetPAT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`concurrent = 2
listen_address = %q
shutdown_timeout = 30
node_name = %q
log_level = "debug"

[[github_scale_set]]
url = %q
token_file = %q
scale_set = %q
min_idle = 1
max_runners = 4
limit = 1
runner_image = %q
pull_policy = "never"
memory = "256m"
pids_limit = 512
tool_cache_dir = %q
state_dir = %q
%s`, metrics, node, fake.ConfigURL("acme"), tokFile, scaleSet, githubStubImage, filepath.Join(dir, "toolcache"), filepath.Join(dir, "state"), extra)
	path = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, metrics
}

// runScaleSet runs the listener's session and an agent of concurrent
// slots whose one source is the listener (the runners run in its slot
// loop); stop ends both, the agent first.
func runScaleSet(t testing.TB, l *scaleset.Listener, concurrent int) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	agent := runner.NewAgent(runner.AgentOptions{Sources: []runner.Source{l}, Concurrent: concurrent, ShutdownTimeout: time.Minute})
	actx, acancel := context.WithCancel(context.Background())
	adone := make(chan error, 1)
	go func() { adone <- agent.Run(actx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		acancel()
		select {
		case err := <-adone:
			if err != nil {
				t.Errorf("agent: %v", err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("timed out after 2m waiting for the agent to stop (its shutdown timeout is 1m)")
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("listener: %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("timed out after 1m waiting for the scale-set listener to stop")
		}
	}
	t.Cleanup(stop)
	return stop
}
