package gitlabtest

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestJobLifecycleStrictness walks one two-phase job through accept, trace
// and final update, checking what the fake refuses on the way.
func TestJobLifecycleStrictness(t *testing.T) {
	srv, c := newFake(t)
	id := srv.Enqueue(JobSpec{Script: []string{"true"}})
	_, tok := c.take()

	steps := []struct {
		name      string
		do        func() *http.Response
		want      int
		wantRange string
	}{
		{"trace before accept", func() *http.Response { return c.patch(id, tok, "0-4", "hello") }, http.StatusForbidden, ""},
		{"wrong job token", func() *http.Response { return c.put(id, map[string]any{"token": "glcbt-wrong", "state": "running"}) }, http.StatusForbidden, ""},
		{"invalid state", func() *http.Response { return c.put(id, map[string]any{"token": tok, "state": "bogus"}) }, http.StatusBadRequest, ""},
		{"canceled is not a runner state", func() *http.Response { return c.put(id, map[string]any{"token": tok, "state": "canceled"}) }, http.StatusBadRequest, ""},
		{"two-phase keep-alive", func() *http.Response { return c.put(id, map[string]any{"token": tok, "state": "pending"}) }, http.StatusOK, ""},
		{"accept", func() *http.Response { return c.put(id, map[string]any{"token": tok, "state": "running"}) }, http.StatusOK, ""},
		{"pending after accept", func() *http.Response { return c.put(id, map[string]any{"token": tok, "state": "pending"}) }, http.StatusConflict, ""},
		{"patch", func() *http.Response { return c.patch(id, tok, "0-4", "hello") }, http.StatusAccepted, "0-5"},
		{"overlap", func() *http.Response { return c.patch(id, tok, "3-5", "abc") }, http.StatusRequestedRangeNotSatisfiable, "0-5"},
		{"gap", func() *http.Response { return c.patch(id, tok, "7-8", "ab") }, http.StatusRequestedRangeNotSatisfiable, "0-5"},
		{"exclusive end", func() *http.Response { return c.patch(id, tok, "5-7", " x") }, http.StatusBadRequest, ""},
		{"unit in range", func() *http.Response { return c.patch(id, tok, "bytes 5-6", " x") }, http.StatusBadRequest, ""},
		{"no range", func() *http.Response { return c.patch(id, tok, "", " x") }, http.StatusBadRequest, ""},
		{"no job token", func() *http.Response { return c.patch(id, "", "5-6", " x") }, http.StatusForbidden, ""},
		{"bad checksum: resend", func() *http.Response { return c.put(id, finalBody(tok, "failed", "script_failure", "hellx")) }, http.StatusPreconditionFailed, ""},
		{"stale offset after 412", func() *http.Response { return c.patch(id, tok, "5-6", " x") }, http.StatusRequestedRangeNotSatisfiable, "0-0"},
		{"resend from 0", func() *http.Response { return c.patch(id, tok, "0-4", "hello") }, http.StatusAccepted, "0-5"},
		{"failure reason not offered", func() *http.Response { return c.put(id, finalBody(tok, "failed", "made_up", "hello")) }, http.StatusBadRequest, ""},
		{"final", func() *http.Response { return c.put(id, finalBody(tok, "failed", "script_failure", "hello")) }, http.StatusOK, ""},
		{"second final", func() *http.Response { return c.put(id, finalBody(tok, "failed", "script_failure", "hello")) }, http.StatusForbidden, ""},
		{"trace after final", func() *http.Response { return c.patch(id, tok, "5-6", " x") }, http.StatusForbidden, ""},
	}
	for _, st := range steps {
		resp := st.do()
		if resp.StatusCode != st.want {
			t.Errorf("%s: status %d, want %d", st.name, resp.StatusCode, st.want)
		}
		if st.wantRange != "" && resp.Header.Get("Range") != st.wantRange {
			t.Errorf("%s: Range %q, want %q", st.name, resp.Header.Get("Range"), st.wantRange)
		}
		if resp.Header.Get("Job-Status") == "" {
			t.Errorf("%s: no Job-Status header", st.name)
		}
	}
	rec := srv.Job(id)
	if rec.State != StateFailed || rec.FailureReason != "script_failure" || rec.FinalUpdates != 1 ||
		rec.RejectedFinalUpdates != 1 || rec.ChecksumMismatches != 1 || !rec.TraceChecksumOK ||
		string(rec.Trace) != "hello" || rec.ExitCode == nil || *rec.ExitCode != 1 || !rec.Accepted || !rec.TwoPhase {
		t.Errorf("record: %+v", rec)
	}
	if v := srv.Violations(); len(v) < 5 {
		t.Errorf("violations not recorded: %v", v)
	}
}

func TestSecondChecksumMismatchIsAcceptedAsViolation(t *testing.T) {
	srv, c := newFake(t)
	id := srv.Enqueue(JobSpec{})
	_, tok := c.take()
	c.put(id, map[string]any{"token": tok, "state": "running"})
	c.patch(id, tok, "0-2", "abc")
	if code := c.put(id, finalBody(tok, "success", "", "xyz")).StatusCode; code != http.StatusPreconditionFailed {
		t.Fatalf("first mismatch: %d", code)
	}
	if code := c.put(id, finalBody(tok, "success", "", "xyz")).StatusCode; code != http.StatusOK {
		t.Fatalf("second mismatch: %d", code)
	}
	if rec := srv.Job(id); rec.State != StateSuccess || rec.TraceChecksumOK || rec.ChecksumMismatches != 2 {
		t.Errorf("record: %+v", rec)
	}
	if len(srv.Violations()) != 1 {
		t.Errorf("violations: %v", srv.Violations())
	}
}

func TestWithoutTwoPhaseJobRunsAtOnce(t *testing.T) {
	srv, c := newFake(t)
	delete(c.features, "two_phase_job_commit")
	id := srv.Enqueue(JobSpec{})
	_, tok := c.take()
	if rec := srv.Job(id); rec.State != StateRunning || rec.TwoPhase || rec.Accepted {
		t.Fatalf("record: %+v", rec)
	}
	if code := c.patch(id, tok, "0-1", "ok").StatusCode; code != http.StatusAccepted {
		t.Fatalf("patch: %d", code)
	}
	if code := c.put(id, finalBody(tok, "success", "", "ok")).StatusCode; code != http.StatusOK {
		t.Fatalf("final: %d", code)
	}
	if rec := srv.WaitFinal(t, id, time.Second); rec.State != StateSuccess || rec.FailureReason != "" {
		t.Errorf("record: %+v", rec)
	}
}

func TestTwoPhaseHoldExpires(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	srv, c := newFake(t, WithClock(clock), WithTwoPhaseHold(2*time.Minute))
	id := srv.Enqueue(JobSpec{})
	_, tok := c.take()
	now = now.Add(3 * time.Minute)
	id2, tok2 := c.take()
	if id2 != id || tok2 == tok {
		t.Fatalf("requeued job %d token %q, want %d with a new token", id2, tok2, id)
	}
	if code := c.put(id, map[string]any{"token": tok, "state": "running"}).StatusCode; code != http.StatusForbidden {
		t.Errorf("old token accepted the job: %d", code)
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name       string
		graceful   bool
		abort      bool
		wantStatus string // Job-Status on the next trace patch
		wantPatch  int
		wantFinal  int
	}{
		{"graceful", true, false, "canceling", http.StatusAccepted, http.StatusOK},
		{"runner cannot cancel gracefully", false, false, "canceled", http.StatusForbidden, http.StatusForbidden},
		{"abort", true, true, "canceled", http.StatusForbidden, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newFake(t)
			if !tt.graceful {
				delete(c.features, "cancel_gracefully")
			}
			id := srv.Enqueue(JobSpec{})
			_, tok := c.take()
			c.put(id, map[string]any{"token": tok, "state": "running"})
			if tt.abort {
				srv.Abort(id)
			} else {
				srv.Cancel(id)
			}
			resp := c.patch(id, tok, "0-1", "ok")
			if resp.StatusCode != tt.wantPatch || resp.Header.Get("Job-Status") != tt.wantStatus {
				t.Errorf("patch: %d %q, want %d %q", resp.StatusCode, resp.Header.Get("Job-Status"), tt.wantPatch, tt.wantStatus)
			}
			if code := c.put(id, finalBody(tok, "failed", "script_failure", "ok")).StatusCode; code != tt.wantFinal {
				t.Errorf("final: %d, want %d", code, tt.wantFinal)
			}
			if rec := srv.WaitFinal(t, id, time.Second); rec.State != StateCanceled {
				t.Errorf("state %s, want canceled", rec.State)
			}
		})
	}
}

func TestCancelPendingJob(t *testing.T) {
	srv, c := newFake(t)
	id := srv.Enqueue(JobSpec{})
	srv.Cancel(id)
	if resp, _ := c.request(""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("canceled job handed out: %d", resp.StatusCode)
	}
	if rec := srv.Job(id); rec.State != StateCanceled {
		t.Errorf("state %s", rec.State)
	}
}

func TestRequestsAreRecorded(t *testing.T) {
	srv, c := newFake(t)
	id := srv.Enqueue(JobSpec{})
	c.take()
	c.do("GET", "nope", nil)
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests %+v", reqs)
	}
	if r := reqs[0]; r.Endpoint != EndpointRequestJob || r.Status != http.StatusCreated || r.JobID != id ||
		!strings.HasPrefix(r.UserAgent, "gitlabtest-test") || r.Time.IsZero() {
		t.Errorf("record %+v", r)
	}
	if r := reqs[1]; r.Status != http.StatusNotFound {
		t.Errorf("record %+v", r)
	}
}

func TestMissingUserAgentIsAViolation(t *testing.T) {
	srv, _ := newFake(t)
	req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL()+"/api/v4/jobs/request", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header["User-Agent"] = []string{""}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := srv.Violations(); len(v) != 1 || !strings.Contains(v[0], "User-Agent") {
		t.Errorf("violations %v", v)
	}
}
