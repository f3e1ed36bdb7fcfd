package github_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	actions "github.com/actions/scaleset"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/githubtest"
	"github.com/runfleet/runfleet/runner/github/scaleset"
	"github.com/runfleet/runfleet/runner/github/scalesettest"
)

func jitMints(srv *githubtest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/generate-jitconfig") {
			n++
		}
	}
	return n
}

// TestSourceStopsMintingForAnOutdatedRunner: a runner image GitHub refuses
// (the stand-in plays runner 2.327.1, the strict fake refuses it as GitHub
// does) makes Acquire fail with ErrRunnerOutdated, raises RunnerOutdated,
// leaves no registration and mints no more JIT configs; once the image is
// fixed, one probe after OutdatedRecheck takes a job and clears the
// condition.
func TestSourceStopsMintingForAnOutdatedRunner(t *testing.T) {
	f := newFixture(t)
	launcher := *f.launcher
	launcher.Env = []string{"RUNFLEET_TEST_RUNNER_VERSION=2.327.1"}
	var outMu sync.Mutex
	var output strings.Builder
	launcher.Output = func(string) io.Writer { return lockedWriter{&outMu, &output} }
	src, err := github.NewSource(github.SourceOptions{
		API: f.client, Node: f.node, Labels: []string{"self-hosted", "linux", "x64"}, Launcher: &launcher,
		OutdatedRecheck: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	var condMu sync.Mutex
	var conds []bool
	src.ReportConditions(func(c string, on bool) {
		if c != github.ConditionRunnerOutdated {
			t.Errorf("condition %q", c)
		}
		condMu.Lock()
		conds = append(conds, on)
		condMu.Unlock()
	})
	slot := runner.Slot{Source: "github", Index: 0}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	_, err = src.Acquire(ctx, slot)
	var outdated *github.RunnerOutdatedError
	if !errors.Is(err, github.ErrRunnerOutdated) || !errors.As(err, &outdated) {
		t.Fatalf("Acquire with an outdated runner: %v, want ErrRunnerOutdated", err)
	}
	if outdated.Version != "2.327.1" || outdated.Image != stubImage || src.Outdated() == nil {
		t.Errorf("refusal %+v, source outdated %v", outdated, src.Outdated())
	}
	outMu.Lock()
	if !strings.Contains(output.String(), "Runner version v2.327.1 is deprecated and cannot receive messages.") {
		t.Errorf("runner output lacks GitHub's refusal:\n%s", output.String())
	}
	outMu.Unlock()
	if got := f.srv.Refused(); len(got) != 1 || got[0] != "2.327.1" {
		t.Errorf("the fake refused %v", got)
	}
	if rs := f.srv.Runners(); len(rs) != 0 {
		t.Errorf("registrations left after the refusal: %+v", rs)
	}
	condMu.Lock()
	if len(conds) != 1 || !conds[0] {
		t.Errorf("conditions reported %v, want [true]", conds)
	}
	condMu.Unlock()

	// No more minting: Acquire waits without asking GitHub.
	mints := jitMints(f.srv)
	short, cancelShort := context.WithTimeout(t.Context(), time.Second)
	_, err = src.Acquire(short, slot)
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) || jitMints(f.srv) != mints {
		t.Fatalf("Acquire while outdated: %v after %d new mints, want to wait without minting", err, jitMints(f.srv)-mints)
	}

	// The operator rebuilds the image: the probe after the recheck takes a
	// job and minting resumes.
	launcher.Env = nil
	id := f.srv.Enqueue(githubtest.JobSpec{Repo: "acme/app", Labels: []string{"self-hosted"}, Script: []string{"echo updated runner"}})
	job, err := src.Acquire(ctx, slot)
	if err != nil {
		t.Fatalf("Acquire after the image was fixed: %v", err)
	}
	if out := runJob(t, ctx, job); out.State != "success" {
		t.Fatalf("outcome %+v", out)
	}
	if j := f.srv.WaitCompleted(t, id, time.Minute); j.Conclusion != "success" {
		t.Fatalf("job %+v", j)
	}
	if src.Outdated() != nil || jitMints(f.srv) != mints+1 {
		t.Errorf("after the probe: outdated %v, %d mints, want nil and exactly one", src.Outdated(), jitMints(f.srv)-mints)
	}
	condMu.Lock()
	if len(conds) != 2 || conds[1] {
		t.Errorf("conditions reported %v, want [true false]", conds)
	}
	condMu.Unlock()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestScaleSetRunnerOutdated: a scale-set runner GitHub refuses as
// outdated ends with the typed ErrRunnerOutdated, naming image and
// version; in the agent's slot loop the scale set then behaves as label
// mode does: RunnerOutdated is raised and no more JIT configs are minted
// though the job still waits.
func TestScaleSetRunnerOutdated(t *testing.T) {
	f := newFixture(t)
	launcher := *f.launcher
	launcher.Env = []string{"RUNFLEET_TEST_RUNNER_VERSION=2.327.1"}
	jit, err := f.client.MintJIT(t.Context(), github.JITRequest{Name: f.node + "-ss", RunnerGroupID: 1, Labels: []string{"self-hosted"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	err = scaleset.ContainerLauncher{Launcher: &launcher}.Run(ctx, scaleset.Runner{Name: f.node + "-ss", EncodedJITConfig: jit.Encoded})
	var outdated *github.RunnerOutdatedError
	if !errors.Is(err, github.ErrRunnerOutdated) || !errors.As(err, &outdated) || outdated.Version != "2.327.1" || outdated.Image != stubImage {
		t.Fatalf("scale-set runner refused as outdated: %v, want a RunnerOutdatedError for %s 2.327.1", err, stubImage)
	}

	// The listener in the agent's slot loop, against the scale-set fake.
	const token = "ghp_scalesetOutdatedTest0000000000000"
	fake := scalesettest.New(t, scalesettest.Options{Token: token, PollTimeout: 200 * time.Millisecond,
		ListenAddress: bridgeGateway(t) + ":0"})
	api, err := actions.NewClientWithPersonalAccessToken(actions.NewClientWithPersonalAccessTokenConfig{
		GitHubConfigURL: fake.ConfigURL("acme"), PersonalAccessToken: token,
	}, actions.WithRetryMax(2), actions.WithRetryWaitMax(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	l, err := scaleset.New(scaleset.Options{
		Config:   scaleset.Config{Name: "fleet-outdated", Max: 2, Slots: 2, Owner: f.node, RetryWait: 200 * time.Millisecond},
		API:      api,
		Launcher: scaleset.ContainerLauncher{Launcher: &launcher},
	})
	if err != nil {
		t.Fatal(err)
	}
	lctx, lcancel := context.WithCancel(ctx)
	ldone := make(chan error, 1)
	go func() { ldone <- l.Run(lctx) }()
	agent := runner.NewAgent(runner.AgentOptions{Sources: []runner.Source{l}, Concurrent: 2, ShutdownTimeout: 30 * time.Second})
	actx, acancel := context.WithCancel(ctx)
	adone := make(chan error, 1)
	go func() { adone <- agent.Run(actx) }()
	defer func() {
		acancel()
		select {
		case err := <-adone:
			if err != nil {
				t.Errorf("agent: %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("timed out waiting for the agent to stop (its shutdown timeout is 30s)")
		}
		lcancel()
		select {
		case err := <-ldone:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("listener: %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("timed out waiting for the scale-set listener to stop")
		}
	}()

	fake.QueueJob(scalesettest.Job{Labels: []string{"fleet-outdated"}, Steps: []string{"echo never runs"}})
	raised := func() bool { return slices.Contains(agent.Status().Conditions, github.ConditionRunnerOutdated) }
	for deadline := time.Now().Add(time.Minute); !raised() || l.Outdated() == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for RunnerOutdated: conditions %v, refused %v, %d JIT configs",
				agent.Status().Conditions, fake.Refused(), len(fake.JITConfigs()))
		}
	}
	if got := l.Outdated(); got.Version != "2.327.1" || got.Image != stubImage {
		t.Errorf("listener's refusal %+v", got)
	}
	// The job is still wanted, yet no runner is minted for the refused
	// image while the refusal stands (recheck 30 min).
	mints := len(fake.JITConfigs())
	time.Sleep(3 * time.Second)
	if got := len(fake.JITConfigs()); got != mints || mints < 1 {
		t.Errorf("%d JIT configs before, %d after three seconds of refusal: want no more minting", mints, got)
	}
	if got := fake.Refused(); len(got) != mints {
		t.Errorf("the fake refused %v after %d JIT configs", got, mints)
	}
	if rs := fake.Runners(); len(rs) != 0 {
		t.Errorf("registrations left after the refusal: %+v", rs)
	}
}
