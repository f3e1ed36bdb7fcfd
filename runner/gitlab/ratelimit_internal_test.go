package gitlab

import (
	"net/http"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
	"github.com/runfleet/runfleet/runner/ratelimit"
)

// TestJobBindings: a job's token shares its runner's gate key from the
// hand-out until GitLab acknowledged its final state or said it is gone.
func TestJobBindings(t *testing.T) {
	t.Parallel()
	const token, systemID = "glrt-binding-runner-tok", "s_0123456789ab"
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(100*time.Millisecond))
	srv.AddRunner(token)
	c, err := NewClient(ClientOptions{BaseURL: srv.URL(), UserAgent: "runfleet/test"})
	if err != nil {
		t.Fatal(err)
	}
	info := VersionInfo{Name: "runfleet", Version: "test", Features: ImplementedFeatures()}
	take := func() *JobResponse {
		t.Helper()
		srv.Enqueue(gitlabtest.JobSpec{Script: []string{"true"}})
		res, err := c.RequestJob(t.Context(), RequestJobBody{Token: token, SystemID: systemID, Info: info})
		if err != nil || res.Job == nil {
			t.Fatalf("taking a job: %+v %v", res, err)
		}
		if _, err := c.UpdateJob(t.Context(), res.Job.ID, UpdateJobBody{Token: res.Job.Token, State: StateRunning}); err != nil {
			t.Fatal(err)
		}
		return res.Job
	}
	bound := func(jobToken string) bool {
		req, _ := http.NewRequest(http.MethodPatch, srv.URL(), nil)
		req.Header.Set(headerJobToken, jobToken)
		return c.credentialKey(req) == ratelimit.Key("gitlab", token)
	}

	done := take()
	if !bound(done.Token) {
		t.Fatal("a job handed out is not bound to its runner")
	}
	tr, err := NewTrace(TraceOptions{Client: c, JobID: done.ID, JobToken: done.Token})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Finish(t.Context(), FinalResult{State: StateSuccess}); err != nil {
		t.Fatal(err)
	}
	if bound(done.Token) {
		t.Error("a job whose final state GitLab acknowledged is still bound")
	}

	gone := take()
	srv.Abort(gone.ID)
	if _, err := c.PatchTrace(t.Context(), gone.ID, gone.Token, 0, []byte("x")); err == nil {
		t.Fatal("a patch to an aborted job succeeded")
	}
	if bound(gone.Token) {
		t.Error("a job GitLab says is gone is still bound")
	}
}
