package github_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/githubtest"
	"github.com/runfleet/runfleet/runner/github/scaleset"
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
	if out := job.Run(ctx); out.State != "success" {
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
// outdated ends with the typed ErrRunnerOutdated, naming image and version.
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
}
