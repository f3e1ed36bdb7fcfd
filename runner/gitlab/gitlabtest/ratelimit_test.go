package gitlabtest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// manualClock is a clock the test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// connClient sends every request on its own kept-alive connection.
func connClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
}

func TestRetryAfterIsEnforcedPerRunner(t *testing.T) {
	t.Parallel()
	const other = "glrt-other-runner-token"
	tests := []struct {
		name  string
		after time.Duration // since the 429 with Retry-After: 1
		conn  string        // "same" (the one that got the 429) or "other"
		call  string        // "request", "other-runner", "patch", "update"
		early int
	}{
		{"same connection retry too soon", 580 * time.Millisecond, "same", "request", 1},
		{"same connection after the grace", 150 * time.Millisecond, "same", "request", 1},
		{"same connection within the grace", 10 * time.Millisecond, "same", "request", 0},
		{"another slot too soon", 500 * time.Millisecond, "other", "request", 1},
		{"another slot's call already in flight", 50 * time.Millisecond, "other", "request", 0},
		{"a trace patch of the runner's job", 500 * time.Millisecond, "other", "patch", 1},
		{"a job update of the runner's job (body token)", 500 * time.Millisecond, "other", "update", 1},
		{"after Retry-After", time.Second, "same", "request", 0},
		{"another runner is not limited", 500 * time.Millisecond, "same", "other-runner", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &manualClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			srv, c := newFake(t, WithClock(clk.Now))
			srv.AddRunner(other)
			srv.Enqueue(JobSpec{Script: []string{"true"}})
			id, jobToken := c.take()
			if resp := c.put(id, map[string]any{"token": jobToken, "state": "running"}); resp.StatusCode != http.StatusOK {
				t.Fatalf("accepting the job: %d", resp.StatusCode)
			}
			srv.Faults(FaultPlan{Rules: []FaultRule{{Endpoint: EndpointRequestJob, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 1}}})
			conns := map[string]*http.Client{"same": connClient(), "other": connClient()}
			poll := func(hc *http.Client, token string) int {
				body := fmt.Sprintf(`{"token":%q,"system_id":%q,"info":{"features":{}}}`, token, systemID)
				return send(t, hc, srv, "POST", "jobs/request", body, "Content-Type", "application/json", "RUNNER-TOKEN", token)
			}
			if code := poll(conns["same"], runnerToken); code != http.StatusTooManyRequests {
				t.Fatalf("first poll: %d, want the injected 429", code)
			}
			clk.Advance(tc.after)
			hc := conns[tc.conn]
			switch tc.call {
			case "request":
				poll(hc, runnerToken)
			case "other-runner":
				poll(hc, other)
			case "patch":
				send(t, hc, srv, "PATCH", fmt.Sprintf("jobs/%d/trace", id), "x",
					"JOB-TOKEN", jobToken, "Content-Range", "0-0", "Content-Type", "text/plain")
			case "update":
				send(t, hc, srv, "PUT", fmt.Sprintf("jobs/%d", id), fmt.Sprintf(`{"token":%q,"state":"running"}`, jobToken),
					"Content-Type", "application/json")
			}
			if got := srv.EarlyCalls(); got != tc.early {
				t.Errorf("early calls %d, want %d; violations: %q", got, tc.early, srv.Violations())
			}
			if tc.early > 0 && !strings.Contains(strings.Join(srv.Violations(), "\n"), "Retry-After") {
				t.Errorf("no violation names the Retry-After: %q", srv.Violations())
			}
		})
	}
}

// send makes one request on hc and returns its status.
func send(t *testing.T, hc *http.Client, srv *Server, method, path, body string, hdr ...string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL()+"/api/v4/"+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "gitlabtest-test/1.0")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
