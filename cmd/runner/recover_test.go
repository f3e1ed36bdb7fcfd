package main

import (
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/gitlab"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
	"github.com/runfleet/runfleet/runner/journal"
)

// TestRecoverJobs: at start the journal's GitLab jobs are reported failed
// and their records go; records the agent cannot handle (a runner gone
// from the config, an unknown platform) stay for a later start.
func TestRecoverJobs(t *testing.T) {
	t.Parallel()
	const token, systemID = "glrt-recover-cmd-runner", "s_0123456789ab"
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(100*time.Millisecond))
	srv.AddRunner(token)
	id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"true"}})
	client, err := gitlab.NewClient(gitlab.ClientOptions{BaseURL: srv.URL(), UserAgent: "runfleet/test"})
	if err != nil {
		t.Fatal(err)
	}
	info := versionInfo("e2e")
	res, err := client.RequestJob(t.Context(), gitlab.RequestJobBody{Token: token, SystemID: systemID, Info: info})
	if err != nil || res.Job == nil {
		t.Fatalf("taking the job: %+v %v", res, err)
	}
	if _, err := client.UpdateJob(t.Context(), id, gitlab.UpdateJobBody{Token: res.Job.Token, State: gitlab.StateRunning}); err != nil {
		t.Fatal(err)
	}
	jr, err := journal.Open(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	records := []journal.Entry{
		{Platform: journal.PlatformGitLab, Runner: "e2e", JobID: strconv.FormatInt(id, 10), JobToken: res.Job.Token, Started: time.Now()},
		{Platform: journal.PlatformGitLab, Runner: "gone", JobID: "77", JobToken: "glcbt-x", Started: time.Now()},
		{Platform: "gitea", Runner: "e2e", JobID: "78", Started: time.Now()},
	}
	for _, e := range records {
		if err := jr.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	runners := map[string]recoverRunner{"e2e": {client: client, token: token, info: info}}
	if !recoverJobs(t.Context(), clock.Real{}, jr, runners, nil, nil, slog.New(slog.DiscardHandler)) {
		t.Fatal("recoverJobs found nothing to recover")
	}
	rec := srv.Job(id)
	if rec.State != gitlabtest.StateFailed || rec.FailureReason != "runner_system_failure" || rec.FinalUpdates != 1 ||
		!strings.HasSuffix(string(rec.Trace), gitlab.RestartNote) {
		t.Errorf("the journaled job: %s (%s), %d final updates, log %q", rec.State, rec.FailureReason, rec.FinalUpdates, rec.Trace)
	}
	left, err := jr.Pending()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range left {
		ids = append(ids, e.JobID)
	}
	if strings.Join(ids, ",") != "77,78" {
		t.Errorf("records left %v, want the two the agent cannot handle (77, 78)", ids)
	}
	if recoverJobs(t.Context(), clock.Real{}, jr, runners, nil, nil, slog.New(slog.DiscardHandler)); srv.Job(id).FinalUpdates != 1 {
		t.Error("a second start reported the job again")
	}
}
