package gitlabtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRunnerEndpoints(t *testing.T) {
	srv, c := newFake(t)
	srv.AddLegacyRegistrationToken("reg-token")
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   int
	}{
		{"verify", "POST", "runners/verify", `{"token":"` + runnerToken + `","system_id":"` + systemID + `"}`, http.StatusOK},
		{"verify bad token", "POST", "runners/verify", `{"token":"glrt-nope"}`, http.StatusForbidden},
		{"verify bad system id", "POST", "runners/verify", `{"token":"` + runnerToken + `","system_id":"abc"}`, http.StatusBadRequest},
		{"register", "POST", "runners", `{"token":"reg-token","description":"d","tag_list":"a, b"}`, http.StatusCreated},
		{"register bad token", "POST", "runners", `{"token":"nope"}`, http.StatusForbidden},
		{"unregister unknown manager", "DELETE", "runners/managers", `{"token":"` + runnerToken + `","system_id":"s_ffffffffffff"}`, http.StatusNotFound},
		{"unregister manager", "DELETE", "runners/managers", `{"token":"` + runnerToken + `","system_id":"` + systemID + `"}`, http.StatusNoContent},
		{"unregister manager bad token", "DELETE", "runners/managers", `{"token":"glrt-nope","system_id":"` + systemID + `"}`, http.StatusForbidden},
		{"unregister", "DELETE", "runners", `{"token":"` + runnerToken + `"}`, http.StatusNoContent},
		{"unregister again", "DELETE", "runners", `{"token":"` + runnerToken + `"}`, http.StatusForbidden},
	}
	for _, tt := range tests {
		resp, b := c.do(tt.method, tt.path, []byte(tt.body))
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, b, tt.want)
		}
		if tt.name == "register" {
			var a struct {
				ID    int64  `json:"id"`
				Token string `json:"token"`
			}
			if err := json.Unmarshal(b, &a); err != nil || a.ID == 0 || !srv.HasRunner(a.Token) {
				t.Errorf("register answer %s", b)
			}
		}
	}
}

func TestLegacyRegistrationDisabled(t *testing.T) {
	srv, c := newFake(t, WithLegacyRegistrationDisabled())
	srv.AddLegacyRegistrationToken("reg-token")
	if resp, _ := c.do("POST", "runners", []byte(`{"token":"reg-token"}`)); resp.StatusCode != http.StatusGone {
		t.Errorf("status %d, want 410", resp.StatusCode)
	}
}

func TestTokenExpiryAndReset(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv, c := newFake(t, WithClock(func() time.Time { return now }), WithTokenLifetime(time.Hour))
	resp, b := c.do("POST", "runners/reset_authentication_token", []byte(`{"token":"`+runnerToken+`"}`))
	var a struct {
		Token          string `json:"token"`
		TokenExpiresAt string `json:"token_expires_at"`
	}
	if err := json.Unmarshal(b, &a); resp.StatusCode != http.StatusCreated || err != nil || a.TokenExpiresAt != "2026-01-01T01:00:00Z" {
		t.Fatalf("reset: %d %s", resp.StatusCode, b)
	}
	if srv.HasRunner(runnerToken) || !srv.HasRunner(a.Token) {
		t.Error("old token still valid or new one not")
	}
	now = now.Add(2 * time.Hour)
	if srv.HasRunner(a.Token) {
		t.Error("expired token still valid")
	}
}

// errorsTB records Errorf calls and delegates everything else.
type errorsTB struct {
	testing.TB
	errs []string
}

func (e *errorsTB) Errorf(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

func TestViolationsFailTheTestAtCleanup(t *testing.T) {
	tb := &errorsTB{TB: t}
	t.Cleanup(func() {
		if len(tb.errs) != 1 || !strings.Contains(tb.errs[0], "failure_reason") {
			t.Errorf("cleanup errors %q", tb.errs)
		}
	})
	srv := New(tb)
	srv.AddRunner(runnerToken)
	c := &client{t: t, srv: srv, features: allFeatures()}
	id := srv.Enqueue(JobSpec{})
	_, tok := c.take()
	c.put(id, map[string]any{"token": tok, "state": "running"})
	if code := c.put(id, finalBody(tok, "failed", "image_pull_failure_v2", "")).StatusCode; code != http.StatusBadRequest {
		t.Errorf("status %d", code)
	}
}
