package gitlab_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/gitlab"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

func TestRotateToken(t *testing.T) {
	srv := gitlabtest.New(t, gitlabtest.WithTokenLifetime(2*time.Second))
	const tok = "glrt-rotate-me-000000"
	srv.AddRunner(tok)
	c, err := gitlab.NewClient(gitlab.ClientOptions{BaseURL: srv.URL(), UserAgent: "runfleet/test"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	src := gitlab.NewSource(gitlab.SourceOptions{
		Runner:   config.Runner{Name: "r", Token: tok, TokenObtainedAt: now, TokenExpiresAt: now.Add(2 * time.Second)},
		Client:   c,
		SystemID: "s_0123456789ab",
	})
	var mu sync.Mutex
	var saved []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- src.RotateToken(ctx, func(old string, res gitlab.VerifyResult, _ time.Time) error {
			mu.Lock()
			defer mu.Unlock()
			saved = append(saved, res.Token)
			return nil
		})
	}()
	// Two rotations (at 75 % of each 2 s lifetime, so the second comes
	// after the first token expired), and polling keeps working with the
	// newest token.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := len(saved)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30s waiting for two token rotations, saw %d", n)
		}
	}
	if _, err := src.Acquire(context.Background(), runner.Slot{}); !errors.Is(err, runner.ErrNoJob) {
		t.Errorf("Acquire with the rotated token: %v", err)
	}
	reqs := srv.Requests()
	if last := reqs[len(reqs)-1]; last.Endpoint != gitlabtest.EndpointRequestJob || last.Status != 204 {
		t.Errorf("poll after rotation answered %d (%s)", last.Status, last.Endpoint)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("timed out waiting for RotateToken to return after its context ended")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(saved) < 2 || saved[0] == tok || saved[0] == saved[1] {
		t.Fatalf("saved tokens %v", saved)
	}
	if srv.HasRunner(tok) || !srv.HasRunner(saved[len(saved)-1]) {
		t.Errorf("the fake does not know the newest token")
	}
}
