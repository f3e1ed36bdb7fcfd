package ratelimit

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLimits(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	resp := func(code int, body string, kv ...string) *http.Response {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body))}
	}
	unix := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	tests := []struct {
		name  string
		limit LimitFunc
		resp  *http.Response
		want  time.Duration // -1: no pause
	}{
		{"gitlab 429 Retry-After seconds", GitLabLimit, resp(429, "", "Retry-After", "2"), 2 * time.Second},
		{"gitlab 429 Retry-After date", GitLabLimit, resp(429, "", "Retry-After", now.Add(5*time.Second).Format(http.TimeFormat)), 5 * time.Second},
		{"gitlab 429 RateLimit-Reset", GitLabLimit, resp(429, "", "RateLimit-Reset", unix(7*time.Second)), 7 * time.Second},
		{"gitlab 429 RateLimit-ResetTime", GitLabLimit, resp(429, "", "RateLimit-ResetTime", now.Add(9*time.Second).Format(http.TimeFormat)), 9 * time.Second},
		{"gitlab 429 Retry-After wins", GitLabLimit, resp(429, "", "Retry-After", "1", "RateLimit-Reset", unix(30*time.Second)), time.Second},
		{"gitlab 429 without hint", GitLabLimit, resp(429, ""), DefaultPause},
		{"gitlab 429 reset in the past", GitLabLimit, resp(429, "", "RateLimit-Reset", unix(-time.Minute)), 0},
		{"gitlab 429 absurd Retry-After capped", GitLabLimit, resp(429, "", "Retry-After", "999999999"), maxHint},
		{"gitlab 503 Retry-After", GitLabLimit, resp(503, "", "Retry-After", "3"), 3 * time.Second},
		{"gitlab 503 alone", GitLabLimit, resp(503, ""), -1},
		{"gitlab 200", GitLabLimit, resp(200, "", "Retry-After", "3"), -1},
		{"github secondary Retry-After", GitHubLimit, resp(403, "", "Retry-After", "60"), time.Minute},
		{"github 429 Retry-After", GitHubLimit, resp(429, "", "Retry-After", "4"), 4 * time.Second},
		{"github primary exhausted", GitHubLimit, resp(403, "", "X-Ratelimit-Remaining", "0", "X-Ratelimit-Reset", unix(90*time.Second)), 90 * time.Second},
		{"github last call of the hour", GitHubLimit, resp(200, "", "X-Ratelimit-Remaining", "0", "X-Ratelimit-Reset", unix(20*time.Second)), 20 * time.Second},
		{"github remaining", GitHubLimit, resp(200, "", "X-Ratelimit-Remaining", "10", "X-Ratelimit-Reset", unix(20*time.Second)), -1},
		{"github secondary by body", GitHubLimit, resp(403, `{"message":"You have exceeded a secondary rate limit."}`), SecondaryPause},
		{"github plain 403", GitHubLimit, resp(403, `{"message":"Resource not accessible by integration"}`), -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			until, reason := tc.limit(tc.resp, now)
			if tc.want < 0 {
				if !until.IsZero() {
					t.Fatalf("paused until +%s (%s), want no pause", until.Sub(now), reason)
				}
				return
			}
			if until.IsZero() || until.Sub(now) != tc.want {
				t.Fatalf("pause %v (%s), want +%s", until.Sub(now), reason, tc.want)
			}
			if reason == "" {
				t.Error("no reason given")
			}
		})
	}
}

func TestGitHubLimitKeepsBody(t *testing.T) {
	t.Parallel()
	body := `{"message":"Resource not accessible by integration","documentation_url":"x"}`
	r := &http.Response{StatusCode: 403, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
	GitHubLimit(r, time.Now())
	got, err := io.ReadAll(r.Body)
	if err != nil || string(got) != body {
		t.Fatalf("body after the check: %q, %v; want it intact", got, err)
	}
}
