package gitlab_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
	"github.com/runfleet/runfleet/runner/journal"
)

// TestRecoverJob: a job a killed agent left running is reported failed
// (runner_system_failure) exactly once, with the log GitLab was missing
// and a closing line; a job that had already ended is left alone.
func TestRecoverJob(t *testing.T) {
	t.Parallel()
	const token, systemID = "glrt-recover-runner-toke", "s_0123456789ab"
	tests := []struct {
		name      string
		sent      string // what the killed agent's patches delivered
		spool     string // what it had spooled
		finalized bool   // its final update had gone through
		faults    []gitlabtest.FaultRule
		wantLog   string
		wantState gitlabtest.JobState
	}{
		{name: "log resent from where GitLab is", sent: "line 1\n", spool: "line 1\nline 2\n",
			wantLog: "line 1\nline 2\n" + gitlab.RestartNote, wantState: gitlabtest.StateFailed},
		{name: "nothing sent yet", spool: "line 1\n", wantLog: "line 1\n" + gitlab.RestartNote, wantState: gitlabtest.StateFailed},
		// A node crash can lose the spool's tail: GitLab's log is then
		// replaced by what the spool holds (after a 412), never left open.
		{name: "spool shorter than GitLab's log", sent: "line 1\nline 2\n", spool: "line 1\n",
			wantLog: "line 1\n" + gitlab.RestartNote, wantState: gitlabtest.StateFailed},
		{name: "rate limited and flaky", sent: "a\n", spool: "a\nb\n", faults: []gitlabtest.FaultRule{
			{Endpoint: gitlabtest.EndpointPatchTrace, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 1},
			{Endpoint: gitlabtest.EndpointUpdateJob, FinalOnly: true, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 1},
			{Endpoint: gitlabtest.EndpointUpdateJob, FinalOnly: true, Status: http.StatusBadGateway, Count: 1},
		}, wantLog: "a\nb\n" + gitlab.RestartNote, wantState: gitlabtest.StateFailed},
		{name: "already final: left alone", sent: "done\n", spool: "done\n", finalized: true,
			wantLog: "done\n", wantState: gitlabtest.StateSuccess},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(100*time.Millisecond))
			srv.AddRunner(token)
			id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"true"}})
			c, err := gitlab.NewClient(gitlab.ClientOptions{BaseURL: srv.URL(), UserAgent: "runfleet/test"})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			info := gitlab.VersionInfo{Name: "runfleet", Version: "test", Features: gitlab.ImplementedFeatures()}
			res, err := c.RequestJob(ctx, gitlab.RequestJobBody{Token: token, SystemID: systemID, Info: info})
			if err != nil || res.Job == nil || res.Job.ID != id {
				t.Fatalf("taking the job: %+v, %v", res, err)
			}
			jobToken := res.Job.Token
			if _, err := c.UpdateJob(ctx, id, gitlab.UpdateJobBody{Token: jobToken, State: gitlab.StateRunning}); err != nil {
				t.Fatal(err)
			}
			if tc.sent != "" {
				if _, err := c.PatchTrace(ctx, id, jobToken, 0, []byte(tc.sent)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.finalized {
				tr, err := gitlab.NewTrace(gitlab.TraceOptions{Client: c, JobID: id, JobToken: jobToken})
				if err != nil {
					t.Fatal(err)
				}
				_, _ = tr.Write([]byte(tc.sent))
				if err := tr.Finish(ctx, gitlab.FinalResult{State: gitlab.StateSuccess}); err != nil {
					t.Fatal(err)
				}
			}
			srv.Faults(gitlabtest.FaultPlan{Rules: tc.faults})
			// The restarted agent: a new client, the record and its spool.
			c2, err := gitlab.NewClient(gitlab.ClientOptions{BaseURL: srv.URL(), UserAgent: "runfleet/test"})
			if err != nil {
				t.Fatal(err)
			}
			e := journal.Entry{Platform: journal.PlatformGitLab, JobID: fmt.Sprint(id), JobToken: jobToken}
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := gitlab.RecoverJob(rctx, gitlab.RecoverOptions{Client: c2, RunnerToken: token, Info: &info}, e, []byte(tc.spool)); err != nil {
				t.Fatalf("RecoverJob: %v", err)
			}
			rec := srv.Job(id)
			if rec.State != tc.wantState || rec.FinalUpdates != 1 || !rec.TraceChecksumOK {
				t.Errorf("job: %s, %d final updates, checksum ok %v; want %s once; events %q",
					rec.State, rec.FinalUpdates, rec.TraceChecksumOK, tc.wantState, rec.Events)
			}
			if tc.wantState == gitlabtest.StateFailed && rec.FailureReason != "runner_system_failure" {
				t.Errorf("failure reason %q, want runner_system_failure", rec.FailureReason)
			}
			if string(rec.Trace) != tc.wantLog {
				t.Errorf("log %q, want %q", rec.Trace, tc.wantLog)
			}
			if strings.Count(string(rec.Trace), "agent running this job restarted") > 1 {
				t.Error("closing line sent twice")
			}
		})
	}
}
