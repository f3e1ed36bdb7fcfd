package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/githubhook"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/githubtest"
)

// TestGitHubLabelModeJob: a job queued with [self-hosted, linux] runs on
// an ephemeral JIT runner container and completes; its registration and
// container are gone afterwards, a stale registration of the node is
// removed at start, and shutting the node down with an idle runner
// leaves no registration and no container.
func TestGitHubLabelModeJob(t *testing.T) {
	srv := newGitHubFake(t)
	dir := t.TempDir()
	cfgPath, node, metrics := githubAgentConfig(t, srv, dir, 1)
	// What a crashed agent of this node left behind.
	srv.AddPAT("ghp_setup", "orgs/acme")
	cl, err := github.NewClient(github.ClientOptions{URL: srv.URL() + "/acme", Auth: github.Auth{Token: "ghp_setup"}})
	if err != nil {
		t.Fatal(err)
	}
	stale, err := cl.MintJIT(context.Background(), github.JITRequest{Name: node + "-9-stale0", RunnerGroupID: 1, Labels: []string{"self-hosted"}})
	if err != nil {
		t.Fatal(err)
	}
	a := startAgentWith(t, cfgPath, node, dir, metrics)

	idle := srv.WaitRunners(t, time.Minute, "an idle runner online, the stale one gone", func(rs []githubtest.RunnerInfo) bool {
		for _, r := range rs {
			if r.ID == stale.RunnerID {
				return false
			}
		}
		return len(rs) == 1 && rs[0].Status == "online"
	})
	id := srv.Enqueue(githubtest.JobSpec{Repo: "acme/app", Labels: []string{"self-hosted", "linux"},
		Script: []string{"echo job ran on $RUNFLEET_RUNNER_NAME", "test \"$(id -u)\" = 1001", "test -z \"$GITHUB_TOKEN$RUNFLEET_TOKEN\""}})
	j := srv.WaitCompleted(t, id, 2*time.Minute)
	if j.Conclusion != "success" || !strings.Contains(j.Output, "job ran on "+node) {
		t.Fatalf("job: %+v", j)
	}
	if j.RunnerName != idle[0].Name {
		t.Fatalf("job ran on %q, want the warm runner %q", j.RunnerName, idle[0].Name)
	}
	// The slot refills with a fresh runner; the used one is gone from
	// GitHub and from the engine.
	srv.WaitRunners(t, time.Minute, "a fresh idle runner", func(rs []githubtest.RunnerInfo) bool {
		return len(rs) == 1 && rs[0].Name != j.RunnerName && rs[0].Status == "online"
	})
	waitFor(t, time.Minute, "the used runner's container removed", func() bool {
		return runnerContainers(t, j.RunnerName) == 0
	})
	if err := a.stop(time.Minute); err != nil {
		t.Fatalf("agent exit: %v\n%s", err, tail(a.out.String(), 4000))
	}
	if rs := nodeRunners(srv, node); len(rs) != 0 {
		t.Fatalf("registrations left after shutdown: %+v", rs)
	}
	if l := leftovers(t, node); len(l) != 0 {
		t.Fatalf("left behind after shutdown: %v", l)
	}
	if strings.Contains(a.out.String(), "ghp_e2e") {
		t.Fatal("the token appears in the agent log")
	}
}

// TestGitHubWebhookBadSignature: a workflow_job delivery with a bad
// signature is refused with 401 and changes nothing in the demand count.
func TestGitHubWebhookBadSignature(t *testing.T) {
	srv := newGitHubFake(t)
	rc, err := githubhook.New(githubhook.Options{Secret: []byte("e2e-secret")})
	if err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	srv.SetWebhook(hook.URL, []byte("e2e-secret"))
	id := srv.Enqueue(githubtest.JobSpec{Repo: "acme/app", Labels: []string{"self-hosted", "linux"}, Script: []string{"true"}})
	waitFor(t, 30*time.Second, "the queued delivery", func() bool { return len(srv.Deliveries()) == 1 })
	if d := srv.Deliveries()[0]; d.Status != http.StatusAccepted {
		t.Fatalf("signed delivery: %+v", d)
	}
	before, err := rc.Queued(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 1 || before[0].Count != 1 {
		t.Fatalf("queued before: %+v", before)
	}
	status, err := srv.Redeliver(context.Background(), "completed", id, true)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusUnauthorized {
		t.Fatalf("bad signature answered %d, want 401", status)
	}
	if after, err := rc.Queued(context.Background()); err != nil || len(after) != 1 || after[0].Count != 1 {
		t.Fatalf("a badly signed delivery changed the demand: %+v (%v)", after, err)
	}
}
