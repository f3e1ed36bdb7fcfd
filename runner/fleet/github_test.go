package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/runner/github"
)

// handlerTransport serves requests with a handler in memory (no network,
// so the test's bubble owns every goroutine and the clock).
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// controlPlane answers the GitHub endpoints with what answer says for the
// path, and records when and with which token each call arrived.
type controlPlane struct {
	mu     sync.Mutex
	answer func(path string) (code int, retryAfter string, body any)
	calls  []cpCall
}

type cpCall struct {
	path, auth string
	at         time.Time
}

func (c *controlPlane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.calls = append(c.calls, cpCall{r.URL.Path, r.Header.Get("Authorization"), time.Now()})
	answer := c.answer
	c.mu.Unlock()
	code, ra, body := answer(r.URL.Path)
	if ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	w.Header().Set("Content-Type", fleetapi.ContentType)
	w.WriteHeader(code)
	if code != http.StatusOK {
		body = fleetapi.Error{Error: "refused"}
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (c *controlPlane) callsSoFar() []cpCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]cpCall(nil), c.calls...)
}

func newTestGitHub(t *testing.T, cp *controlPlane, tok *NodeToken) *GitHub {
	t.Helper()
	g, err := NewGitHub(GitHubOptions{URL: "http://cp.test", Token: tok, HTTPClient: &http.Client{Transport: handlerTransport{cp}, Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGitHubWaitsForTheNodeToken: a call made before the node registered
// waits for its token, then carries it.
func TestGitHubWaitsForTheNodeToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cp := &controlPlane{answer: func(string) (int, string, any) {
			return http.StatusOK, "", fleetapi.RunnerList{Runners: []fleetapi.Runner{{ID: 7, Name: "n-0-aa", Status: "online"}}}
		}}
		tok := NewNodeToken()
		g := newTestGitHub(t, cp, tok)
		done := make(chan []github.RunnerStatus, 1)
		go func() {
			rs, err := g.ListRunners(context.Background(), "")
			if err != nil {
				t.Errorf("list: %v", err)
			}
			done <- rs
		}()
		synctest.Wait()
		if n := len(cp.callsSoFar()); n != 0 {
			t.Fatalf("%d calls before the node had a token", n)
		}
		tok.Set("rfn_abc")
		rs := <-done
		if len(rs) != 1 || rs[0].ID != 7 || rs[0].Status != "online" {
			t.Errorf("runners %+v", rs)
		}
		if c := cp.callsSoFar(); len(c) != 1 || c[0].auth != "Bearer rfn_abc" || c[0].path != fleetapi.PathGitHubRunners {
			t.Errorf("calls %+v", c)
		}
	})
}

// TestGitHubErrors: the control plane's answers become runner/github's
// typed errors, which the label-mode source decides on.
func TestGitHubErrors(t *testing.T) {
	tests := []struct {
		name string
		code int
		call func(*GitHub) error
		want error
		not  error
	}{
		{"busy runner", http.StatusConflict, func(g *GitHub) error { return g.DeleteRunner(context.Background(), 1) }, github.ErrRunnerBusy, nil},
		{"slot cap is no busy runner", http.StatusConflict, func(g *GitHub) error {
			_, err := g.MintJIT(context.Background(), github.JITRequest{Name: "n-0-aa", Labels: []string{"linux"}})
			return err
		}, github.ErrInvalid, github.ErrRunnerBusy},
		{"another node's name", http.StatusForbidden, func(g *GitHub) error {
			_, err := g.MintJIT(context.Background(), github.JITRequest{Name: "m-0-aa", Labels: []string{"linux"}})
			return err
		}, github.ErrUnauthorized, nil},
		{"gone", http.StatusNotFound, func(g *GitHub) error {
			_, _, err := g.RunnerJob(context.Background(), github.JobRef{Repo: "a/b", RunID: 1}, "n-0-aa")
			return err
		}, github.ErrNotFound, nil},
		{"rejected by GitHub", http.StatusUnprocessableEntity, func(g *GitHub) error {
			_, err := g.MintJIT(context.Background(), github.JITRequest{Name: "n-0-aa", Labels: []string{"linux"}})
			return err
		}, github.ErrInvalid, nil},
		{"malformed request", http.StatusBadRequest, func(g *GitHub) error {
			_, err := g.ListRunners(context.Background(), "")
			return err
		}, github.ErrInvalid, github.ErrRunnerBusy},
		{"malformed delete is no busy runner", http.StatusBadRequest, func(g *GitHub) error { return g.DeleteRunner(context.Background(), 1) }, github.ErrInvalid, github.ErrRunnerBusy},
		{"GitHub's busy answer passed on", http.StatusUnprocessableEntity, func(g *GitHub) error { return g.DeleteRunner(context.Background(), 1) }, github.ErrRunnerBusy, nil},
		{"rate limited", http.StatusTooManyRequests, func(g *GitHub) error {
			_, err := g.ListRunners(context.Background(), "")
			return err
		}, github.ErrRateLimited, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cp := &controlPlane{answer: func(string) (int, string, any) { return tc.code, "", nil }}
			tok := NewNodeToken()
			tok.Set("rfn_abc")
			err := tc.call(newTestGitHub(t, cp, tok))
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("%v, want %v", err, tc.want)
			}
			if tc.not != nil && errors.Is(err, tc.not) {
				t.Errorf("%v must not be %v", err, tc.not)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tc.code {
				t.Errorf("%v does not carry HTTP %d", err, tc.code)
			}
		})
	}
}

// TestGitHubHonoursRetryAfter: after a 429 with Retry-After (GitHub's rate
// limit, passed on by the control plane) the node's next GitHub call goes
// out when the pause ends, not before.
func TestGitHubHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limited := true
		cp := &controlPlane{}
		cp.answer = func(string) (int, string, any) {
			if limited {
				limited = false
				return http.StatusTooManyRequests, "7", nil
			}
			return http.StatusOK, "", fleetapi.JITConfig{RunnerID: 3, Name: "n-0-aa", Encoded: "e30="}
		}
		tok := NewNodeToken()
		tok.Set("rfn_abc")
		g := newTestGitHub(t, cp, tok)
		start := time.Now()
		req := github.JITRequest{Name: "n-0-aa", Labels: []string{"linux"}}
		if _, err := g.MintJIT(context.Background(), req); !errors.Is(err, github.ErrRateLimited) {
			t.Fatalf("first mint: %v, want ErrRateLimited", err)
		}
		jc, err := g.MintJIT(context.Background(), req)
		if err != nil || jc.RunnerID != 3 || jc.Encoded != "e30=" {
			t.Fatalf("second mint: %+v %v", jc, err)
		}
		c := cp.callsSoFar()
		if len(c) != 2 {
			t.Fatalf("%d calls, want 2", len(c))
		}
		if got := c[1].at.Sub(start); got != 7*time.Second {
			t.Errorf("the call after the 429 went out at +%s, want +7s (Retry-After)", got)
		}
	})
}
