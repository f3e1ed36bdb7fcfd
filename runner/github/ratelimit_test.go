package github_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/githubtest"
	"github.com/runfleet/runfleet/runner/ratelimit"
)

// TestRateGateSharedByClients: two clients of one token (a label-mode
// table and a scale set, say) share the agent's gate. A secondary limit
// with Retry-After: 2 answered to the first pauses the second too: its
// call reaches GitHub only once the time has passed. A client of another
// token is not held.
func TestRateGateSharedByClients(t *testing.T) {
	t.Parallel()
	srv := githubtest.New(t)
	srv.AddRepo("acme/app")
	srv.AddPAT("ghp_unit", "orgs/acme", "repos/acme/app")
	srv.AddPAT("ghp_other", "orgs/acme", "repos/acme/app")
	gate := ratelimit.New(ratelimit.Options{})
	// The first client gives up at once instead of waiting itself.
	giveUp := func(context.Context, time.Duration) error { return errors.New("not waiting") }
	client := func(token string, sleep func(context.Context, time.Duration) error) *github.Client {
		c, err := github.NewClient(github.ClientOptions{URL: srv.URL() + "/acme", Auth: github.Auth{Token: token}, RateGate: gate, Sleep: sleep})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b, other := client("ghp_unit", giveUp), client("ghp_unit", nil), client("ghp_other", nil)
	srv.InjectFault(githubtest.SecondaryLimit, 1, 2*time.Second, "generate-jitconfig")
	limited := time.Now()
	if _, err := a.MintJIT(t.Context(), github.JITRequest{Name: "r1", RunnerGroupID: 1, Labels: []string{"self-hosted"}}); err == nil {
		t.Fatal("mint under a secondary limit succeeded without waiting")
	}
	var wg sync.WaitGroup
	var bAt, otherAt time.Duration
	wg.Go(func() {
		if _, err := b.ListRunners(t.Context(), ""); err != nil {
			t.Errorf("second client: %v", err)
		}
		bAt = time.Since(limited)
	})
	wg.Go(func() {
		if _, err := other.ListRunners(t.Context(), ""); err != nil {
			t.Errorf("other token: %v", err)
		}
		otherAt = time.Since(limited)
	})
	listed := make(chan struct{})
	go func() { wg.Wait(); close(listed) }()
	select {
	case <-listed:
	case <-time.After(time.Minute):
		t.Fatal("timed out waiting for both clients' ListRunners after the Retry-After")
	}
	if bAt < 2*time.Second {
		t.Errorf("the second client of the token called GitHub %s after a Retry-After: 2", bAt.Round(time.Millisecond))
	}
	if otherAt >= bAt {
		t.Errorf("a client of another token was held too (%s, the limited one %s)", otherAt, bAt)
	}
}
