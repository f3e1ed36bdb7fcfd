package scaleset

import (
	"testing"
	"time"

	actions "github.com/actions/scaleset"

	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/scalesettest"
	"github.com/runfleet/runfleet/runner/ratelimit"
)

// newGatedAPI is newAPI behind g.
func newGatedAPI(t *testing.T, fake *scalesettest.Server, g *RateGate) *actions.Client {
	t.Helper()
	c, err := actions.NewClientWithPersonalAccessToken(actions.NewClientWithPersonalAccessTokenConfig{
		GitHubConfigURL: fake.ConfigURL("acme"), PersonalAccessToken: pat,
	}, g.HTTPOption()...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRateGate: a limit answered to any call of the scale-set client
// (429 with Retry-After, a secondary or an exhausted primary limit)
// pauses every call with the credential — the listener's message polls on
// their own session client included — until the wait has passed: the
// strict fake sees no call before then, and the work goes on afterwards
// (the idle runner is minted, the job runs). Without the gate the same
// run makes early calls, which the fake catches.
func TestRateGate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		kind  scalesettest.LimitKind
		path  string // "" = the client's first call
		gated bool
	}{
		{"429 on the first call", scalesettest.TooManyRequests, "", true},
		{"429 on a JIT config", scalesettest.TooManyRequests, "generatejitconfig", true},
		{"secondary limit on a JIT config", scalesettest.SecondaryLimit, "generatejitconfig", true},
		{"primary limit on a JIT config", scalesettest.PrimaryLimit, "generatejitconfig", true},
		{"ungated: early calls are caught", scalesettest.TooManyRequests, "generatejitconfig", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := scalesettest.New(t, scalesettest.Options{Token: pat, PollTimeout: 20 * time.Millisecond, AllowViolations: !tc.gated})
			fake.RateLimit(tc.kind, 1, time.Second, tc.path)
			var rg *RateGate
			if tc.gated {
				rg = &RateGate{Gate: ratelimit.New(ratelimit.Options{}), Key: github.GateKey("127.0.0.1", 0, pat)}
			}
			api := newGatedAPI(t, fake, rg)
			if !tc.gated {
				api = newAPI(t, fake)
			}
			fl := &fakeLauncher{t: t, fake: fake}
			h := newHarness(t, fake, Config{Name: "fleet", Max: 4, MinIdle: 1, Owner: "node-r"}, fl,
				func(o *Options) { o.API, o.RateGate = api, rg })
			if !tc.gated {
				h.eventually("an early call", func() bool { return fake.EarlyCalls() > 0 })
				return
			}
			h.eventually("the idle runner, after the limit", func() bool { s, _ := fl.counts(); return s >= 1 })
			id := fake.QueueJob(scalesettest.Job{Labels: []string{"fleet"}})
			h.eventually("the job run", func() bool {
				j, _ := fake.Job(id)
				return j.State == scalesettest.JobCompleted
			})
			h.stop()
			if n := fake.Limited(); n != 1 {
				t.Errorf("%d calls answered with the limit, want 1 (the test proves nothing)", n)
			}
			if n := fake.EarlyCalls(); n != 0 {
				t.Errorf("%d calls made before the wait had passed: %v", n, fake.Violations())
			}
		})
	}
}
