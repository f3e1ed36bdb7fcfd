package scalesettest

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestRateLimit: an injected limit is answered as GitHub answers it; a
// call made before the wait has passed (past the in-flight grace) is
// early — counted, a violation, answered with the limit again — and one
// made after it is served.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind   LimitKind
		status int
		header string
	}{
		{TooManyRequests, http.StatusTooManyRequests, "Retry-After"},
		{SecondaryLimit, http.StatusForbidden, "Retry-After"},
		{PrimaryLimit, http.StatusForbidden, "X-RateLimit-Reset"},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			t.Parallel()
			s := New(t, Options{Token: pat, AllowViolations: true})
			s.RateLimit(tc.kind, 1, time.Second, "registration-token")
			call := func() *http.Response {
				t.Helper()
				req, _ := http.NewRequest(http.MethodPost, s.URL()+"/api/v3/orgs/acme/actions/runners/registration-token", nil)
				req.Header.Set("Authorization", "Bearer "+pat)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp
			}
			first := call()
			if first.StatusCode != tc.status || first.Header.Get(tc.header) == "" {
				t.Fatalf("limited call: %d %s=%q, want %d with %s", first.StatusCode, tc.header, first.Header.Get(tc.header), tc.status, tc.header)
			}
			wait := time.Second
			if v, err := strconv.ParseInt(first.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
				wait = time.Until(time.Unix(v, 0))
			}
			time.Sleep(InFlightGrace + 10*time.Millisecond)
			if early := call(); early.StatusCode != tc.status {
				t.Errorf("early call answered %d, want the limit (%d) again", early.StatusCode, tc.status)
			}
			if s.EarlyCalls() != 1 || len(s.Violations()) != 1 {
				t.Errorf("early calls %d, violations %v; want the one early call", s.EarlyCalls(), s.Violations())
			}
			time.Sleep(wait)
			if late := call(); late.StatusCode != http.StatusCreated {
				t.Errorf("call after the wait answered %d, want 201", late.StatusCode)
			}
			if s.EarlyCalls() != 1 || s.Limited() != 1 {
				t.Errorf("after the wait: %d early calls, %d limited answers; want 1 and 1", s.EarlyCalls(), s.Limited())
			}
		})
	}
}
