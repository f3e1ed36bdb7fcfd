package github_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/githubtest"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, kind, api, str string
		bad                bool
	}{
		{in: "https://github.com/acme", kind: github.ScopeOrg, api: "https://api.github.com/", str: "orgs/acme"},
		{in: "https://github.com/acme/app/", kind: github.ScopeRepo, api: "https://api.github.com/", str: "repos/acme/app"},
		{in: "https://github.com/enterprises/big", kind: github.ScopeEnterprise, api: "https://api.github.com/", str: "enterprises/big"},
		{in: "https://ghe.example.com/acme", kind: github.ScopeOrg, api: "https://ghe.example.com/api/v3/", str: "orgs/acme"},
		{in: "https://github.com/", bad: true},
		{in: "https://github.com/a/b/c", bad: true},
		{in: "ftp://github.com/acme", bad: true},
		{in: "https://github.com/acme?x=1", bad: true},
	} {
		got, err := github.ParseURL(tc.in)
		if tc.bad {
			if !errors.Is(err, github.ErrBadURL) {
				t.Errorf("%s: err %v, want ErrBadURL", tc.in, err)
			}
			continue
		}
		if err != nil || got.Kind != tc.kind || got.APIURL != tc.api || got.String() != tc.str {
			t.Errorf("%s: %+v %v", tc.in, got, err)
		}
	}
}

func TestAuthValidate(t *testing.T) {
	for _, tc := range []struct {
		a  github.Auth
		ok bool
	}{
		{github.Auth{Token: "x"}, true},
		{github.Auth{AppID: 1, InstallationID: 2, PrivateKey: []byte("k")}, true},
		{github.Auth{}, false},
		{github.Auth{AppID: 1, PrivateKey: []byte("k")}, false},
		{github.Auth{AppID: 1, InstallationID: 2, PrivateKey: []byte("k"), Token: "x"}, false},
	} {
		if err := tc.a.Validate(); (err == nil) != tc.ok {
			t.Errorf("%v: %v", tc.a, err)
		}
		if strings.Contains(tc.a.String(), "x") && tc.a.Token != "" {
			t.Errorf("String shows the token")
		}
	}
}

// recordingSleep records rate-limit waits instead of sleeping.
type recordingSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *recordingSleep) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
	return ctx.Err()
}

func newPATClient(t *testing.T, srv *githubtest.Server, url string, sl *recordingSleep) *github.Client {
	t.Helper()
	srv.AddPAT("ghp_unit", "orgs/acme", "repos/acme/app")
	o := github.ClientOptions{URL: url, Auth: github.Auth{Token: "ghp_unit"}}
	if sl != nil {
		o.Sleep = sl.sleep
	}
	c, err := github.NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestJITAndDelete(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddRepo("acme/app")
	big := srv.AddRunnerGroup("orgs/acme", "big")
	c := newPATClient(t, srv, srv.URL()+"/acme", nil)
	ctx := t.Context()
	id, err := c.RunnerGroupID(ctx, "big")
	if err != nil || id != big {
		t.Fatalf("group id %d %v, want %d", id, err, big)
	}
	if _, err := c.RunnerGroupID(ctx, "nope"); !errors.Is(err, github.ErrNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
	for _, tc := range []struct {
		name string
		req  github.JITRequest
		want error
	}{
		{"ok", github.JITRequest{Name: "n1", RunnerGroupID: big, Labels: []string{"self-hosted"}}, nil},
		{"duplicate name", github.JITRequest{Name: "n1", RunnerGroupID: big, Labels: []string{"self-hosted"}}, github.ErrInvalid},
		{"unknown group", github.JITRequest{Name: "n2", RunnerGroupID: 999, Labels: []string{"self-hosted"}}, github.ErrNotFound},
		{"no labels", github.JITRequest{Name: "n3", RunnerGroupID: 1, Labels: []string{}}, github.ErrInvalid},
		{"blank label", github.JITRequest{Name: "n4", RunnerGroupID: 1, Labels: []string{" "}}, github.ErrInvalid},
		{"blank name", github.JITRequest{Name: "", RunnerGroupID: 1, Labels: []string{"x"}}, github.ErrInvalid},
	} {
		_, err := c.MintJIT(ctx, tc.req)
		if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	rs, err := c.ListRunners(ctx, "n1")
	if err != nil || len(rs) != 1 {
		t.Fatalf("list: %+v %v", rs, err)
	}
	if err := c.DeleteRunner(ctx, rs[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRunner(ctx, rs[0].ID); err != nil {
		t.Fatalf("deleting a runner already gone: %v", err)
	}
}

func TestDeleteBusyRunnerRefused(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddRepo("acme/app")
	c := newPATClient(t, srv, srv.URL()+"/acme", nil)
	ctx := t.Context()
	jit, err := c.MintJIT(ctx, github.JITRequest{Name: "busy", RunnerGroupID: 1, Labels: []string{"self-hosted"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Enqueue(githubtest.JobSpec{Repo: "acme/app", Script: []string{"true"}})
	takeJob(t, srv, jit)
	if err := c.DeleteRunner(ctx, jit.RunnerID); !errors.Is(err, github.ErrRunnerBusy) {
		t.Fatalf("deleting a busy runner: %v, want ErrRunnerBusy", err)
	}
	if len(srv.Runners()) != 1 {
		t.Fatal("the busy runner was deleted")
	}
}

func TestRateLimitsWaitAndRetry(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind githubtest.FaultKind
		wait time.Duration
	}{
		{"secondary", githubtest.SecondaryLimit, 7 * time.Second},
		{"primary", githubtest.PrimaryLimit, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := githubtest.New(t)
			srv.AddRepo("acme/app")
			sl := &recordingSleep{}
			c := newPATClient(t, srv, srv.URL()+"/acme", sl)
			srv.InjectFault(tc.kind, 1, tc.wait, "generate-jitconfig")
			// The recorded sleep passes no time, and go-github refuses to
			// call GitHub before the limit lifts: the call gives up.
			_, err := c.MintJIT(t.Context(), github.JITRequest{Name: "r", RunnerGroupID: 1, Labels: []string{"self-hosted"}})
			if !errors.Is(err, github.ErrRateLimited) {
				t.Fatalf("mint under a rate limit: %v", err)
			}
			if len(sl.waits) == 0 || sl.waits[0] < tc.wait-2*time.Second || sl.waits[0] > tc.wait+2*time.Second {
				t.Fatalf("waits %v, want about %s first", sl.waits, tc.wait)
			}
		})
	}
	t.Run("secondary then success", func(t *testing.T) {
		srv := githubtest.New(t)
		srv.AddRepo("acme/app")
		c := newPATClient(t, srv, srv.URL()+"/acme", nil)
		srv.InjectFault(githubtest.SecondaryLimit, 1, time.Second, "generate-jitconfig")
		if _, err := c.MintJIT(t.Context(), github.JITRequest{Name: "r", RunnerGroupID: 1, Labels: []string{"self-hosted"}}); err != nil {
			t.Fatalf("mint after waiting out a secondary limit: %v", err)
		}
		if n := len(srv.Runners()); n != 1 {
			t.Fatalf("%d runners", n)
		}
	})
}

func TestRateLimitTooLongFails(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddRepo("acme/app")
	srv.AddPAT("ghp_unit", "orgs/acme")
	c, err := github.NewClient(github.ClientOptions{URL: srv.URL() + "/acme", Auth: github.Auth{Token: "ghp_unit"}, MaxRateLimitWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv.InjectFault(githubtest.SecondaryLimit, 1, time.Hour, "")
	if _, err := c.ListRunners(t.Context(), ""); !errors.Is(err, github.ErrRateLimited) {
		t.Fatalf("err %v, want ErrRateLimited", err)
	}
}

func TestAppInstallationTokenCached(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddRepo("acme/app")
	key := srv.AddApp(7, 77, "acme")
	c, err := github.NewClient(github.ClientOptions{URL: srv.URL() + "/acme", Auth: github.Auth{AppID: 7, InstallationID: 77, PrivateKey: key}})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := c.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.InstallationTokensIssued(); n != 1 {
		t.Fatalf("%d installation tokens minted for 5 calls, want 1", n)
	}
	// A wrong installation or another org is refused.
	bad, _ := github.NewClient(github.ClientOptions{URL: srv.URL() + "/acme", Auth: github.Auth{AppID: 7, InstallationID: 78, PrivateKey: key}})
	if err := bad.Check(t.Context()); !errors.Is(err, github.ErrUnauthorized) {
		t.Fatalf("unknown installation: %v", err)
	}
	srv.AddOrg("other")
	other, _ := github.NewClient(github.ClientOptions{URL: srv.URL() + "/other", Auth: github.Auth{AppID: 7, InstallationID: 77, PrivateKey: key}})
	if err := other.Check(t.Context()); !errors.Is(err, github.ErrUnauthorized) {
		t.Fatalf("another org: %v", err)
	}
}

func TestBadTokenRejected(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddRepo("acme/app")
	c, _ := github.NewClient(github.ClientOptions{URL: srv.URL() + "/acme", Auth: github.Auth{Token: "ghp_wrong"}})
	if err := c.Check(t.Context()); !errors.Is(err, github.ErrUnauthorized) {
		t.Fatalf("bad token: %v", err)
	}
}

// TestClientRateKeyIsGateKey: label mode's client waits under GateKey of
// its host and credential, the key the scale-set clients of the same
// credential are given, so a limit one sees pauses the other.
func TestClientRateKeyIsGateKey(t *testing.T) {
	for _, tc := range []struct {
		name, url, host string
		auth            github.Auth
	}{
		{"token on github.com", "https://github.com/acme", "github.com", github.Auth{Token: "ghp_a"}},
		{"token on a server", "https://ghe.example.com/acme/app", "ghe.example.com", github.Auth{Token: "ghp_a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := github.NewClient(github.ClientOptions{URL: tc.url, Auth: tc.auth})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := c.RateKey(), github.GateKey(tc.host, tc.auth.AppID, tc.auth.Token); got != want {
				t.Errorf("RateKey %q, want GateKey %q", got, want)
			}
			if c.RateKey() == github.GateKey(tc.host, 0, "ghp_other") || c.RateKey() == github.GateKey("other.example", 0, tc.auth.Token) {
				t.Error("another credential or host shares the key")
			}
		})
	}
}
