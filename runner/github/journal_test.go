package github_test

import (
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/githubtest"
	"github.com/runfleet/runfleet/runner/journal"
)

// TestSourceJournal: a runner is journaled from its minting until its
// registration is gone; a restarted agent's Recover removes a registration
// a killed agent left, and keeps the record while GitHub counts the
// runner busy.
func TestSourceJournal(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	jr, err := journal.Open(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := github.NewSource(github.SourceOptions{
		API: f.client, Node: f.node, Labels: []string{"self-hosted", "linux", "x64"}, Launcher: f.launcher, Journal: jr,
	})
	if err != nil {
		t.Fatal(err)
	}
	pending := func() []journal.Entry {
		t.Helper()
		es, err := jr.Pending()
		if err != nil {
			t.Fatal(err)
		}
		return es
	}

	// A job run to its end: recorded while it runs, forgotten after.
	f.srv.Enqueue(githubtest.JobSpec{Repo: "acme/app", Labels: []string{"self-hosted"}, Script: []string{"true"}})
	job, err := src.Acquire(ctx, runner.Slot{Source: "github"})
	if err != nil {
		t.Fatal(err)
	}
	if es := pending(); len(es) != 1 || es[0].Platform != journal.PlatformGitHub || es[0].RunnerID == 0 {
		t.Fatalf("while the job runs the journal holds %+v, want its runner", es)
	}
	if out := runJob(t, ctx, job); out.State != runner.StateSuccess {
		t.Fatalf("outcome %+v", out)
	}
	if es := pending(); len(es) != 0 {
		t.Fatalf("after the job the journal holds %+v", es)
	}

	// Registrations a killed agent left: one idle, one that took a job.
	idle, err := f.client.MintJIT(ctx, github.JITRequest{Name: f.node + "-left-idle", RunnerGroupID: 1, Labels: []string{"self-hosted"}})
	if err != nil {
		t.Fatal(err)
	}
	busy, err := f.client.MintJIT(ctx, github.JITRequest{Name: f.node + "-left-busy", RunnerGroupID: 1, Labels: []string{"self-hosted"}})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Enqueue(githubtest.JobSpec{Repo: "acme/app", Script: []string{"true"}})
	takeJob(t, f.srv, busy)
	for _, jit := range []github.JITConfig{idle, busy} {
		if err := jr.Record(journal.Entry{Platform: journal.PlatformGitHub, JobID: strconv.FormatInt(jit.RunnerID, 10), RunnerID: jit.RunnerID}); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range pending() {
		err := src.Recover(ctx, e)
		switch e.RunnerID {
		case idle.RunnerID:
			if err != nil {
				t.Errorf("recovering the idle runner: %v", err)
			}
		case busy.RunnerID:
			if !errors.Is(err, github.ErrRunnerBusy) {
				t.Errorf("recovering the busy runner: %v, want ErrRunnerBusy", err)
			}
		}
	}
	if es := pending(); len(es) != 1 || es[0].RunnerID != busy.RunnerID {
		t.Fatalf("after recovery the journal holds %+v, want only the busy runner", es)
	}
	for _, r := range f.srv.Runners() {
		if r.ID == idle.RunnerID {
			t.Errorf("the idle runner's registration is still there: %+v", r)
		}
	}
}
