package gitlabtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFaultsByCount(t *testing.T) {
	srv, c := newFake(t)
	srv.Faults(FaultPlan{Rules: []FaultRule{
		{Endpoint: EndpointRequestJob, Status: http.StatusServiceUnavailable, Skip: 1, Count: 2},
		{Endpoint: EndpointRequestJob, Status: http.StatusTooManyRequests, RetryAfter: 1500 * time.Millisecond, Skip: 1, Count: 1},
	}})
	var codes []int
	for range 5 {
		resp, _ := c.request("")
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "2" {
			t.Errorf("Retry-After %q, want 2", resp.Header.Get("Retry-After"))
		}
	}
	if want := []int{204, 503, 503, 429, 204}; !slices.Equal(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	if got := srv.FaultsFired()[EndpointRequestJob]; got != 3 {
		t.Errorf("fired %d", got)
	}
	faulted := 0
	for _, r := range srv.Requests() {
		if r.Fault {
			faulted++
		}
	}
	if faulted != 3 {
		t.Errorf("recorded faults %d", faulted)
	}
}

func TestFaultsProbabilityIsDeterministic(t *testing.T) {
	run := func() []int {
		srv, c := newFake(t)
		srv.Faults(FaultPlan{Seed: 7, Rules: []FaultRule{{Endpoint: EndpointRequestJob, Status: http.StatusBadGateway, Probability: 0.5}}})
		var codes []int
		for range 20 {
			resp, _ := c.request("")
			codes = append(codes, resp.StatusCode)
		}
		return codes
	}
	a, b := run(), run()
	if !slices.Equal(a, b) {
		t.Fatalf("not deterministic:\n%v\n%v", a, b)
	}
	if n := strings.Count(fmt.Sprint(a), "502"); n == 0 || n == 20 {
		t.Errorf("probability 0.5 fired %d of 20", n)
	}
}

func TestFaultHangUntilClientGivesUp(t *testing.T) {
	srv, c := newFake(t)
	srv.Faults(FaultPlan{Rules: []FaultRule{{Endpoint: EndpointRequestJob, Status: http.StatusGatewayTimeout, Hang: time.Minute, Count: 1}}})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", srv.URL()+"/api/v4/jobs/request",
		strings.NewReader(`{"token":"`+runnerToken+`","system_id":"`+systemID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "test")
	start := time.Now()
	_, err = srv.Client().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	if resp, _ := c.request(""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("after the hang: %d", resp.StatusCode)
	}
}

func TestJobFaults(t *testing.T) {
	srv, c := newFake(t)
	id := srv.Enqueue(JobSpec{})
	_, tok := c.take()
	c.put(id, map[string]any{"token": tok, "state": "running"})
	srv.Faults(FaultPlan{Rules: []FaultRule{
		{Endpoint: EndpointPatchTrace, Status: http.StatusRequestedRangeNotSatisfiable, Skip: 1, Count: 1},
		{Endpoint: EndpointUpdateJob, FinalOnly: true, Status: http.StatusAccepted, Count: 1},
		{Endpoint: EndpointUpdateJob, FinalOnly: true, Status: http.StatusPreconditionFailed, Count: 1},
	}})
	if resp := c.patch(id, tok, "0-2", "abc"); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("patch: %d", resp.StatusCode)
	}
	if resp := c.patch(id, tok, "3-5", "def"); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Range") != "0-3" {
		t.Fatalf("one-off 416: %d %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	if resp := c.patch(id, tok, "3-5", "def"); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("resend: %d", resp.StatusCode)
	}
	if code := c.put(id, map[string]any{"token": tok, "state": "running"}).StatusCode; code != http.StatusOK {
		t.Errorf("keep-alive hit a final-only fault: %d", code)
	}
	if resp := c.put(id, finalBody(tok, "success", "", "abcdef")); resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-GitLab-Trace-Update-Interval") == "" {
		t.Errorf("202 fault: %d", resp.StatusCode)
	}
	if code := c.put(id, finalBody(tok, "success", "", "abcdef")).StatusCode; code != http.StatusPreconditionFailed {
		t.Errorf("412 fault: %d", code)
	}
	if code := c.patch(id, tok, "0-5", "abcdef").StatusCode; code != http.StatusAccepted {
		t.Errorf("resend after 412: %d", code)
	}
	if code := c.put(id, finalBody(tok, "success", "", "abcdef")).StatusCode; code != http.StatusOK {
		t.Errorf("final: %d", code)
	}
	if rec := srv.Job(id); rec.FinalUpdates != 1 || !rec.TraceChecksumOK || string(rec.Trace) != "abcdef" {
		t.Errorf("record %+v", rec)
	}
}
