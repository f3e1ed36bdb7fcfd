package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/controlplane/sqlitestore"
	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/fleet"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/githubtest"
	"github.com/runfleet/runfleet/runner/ratelimit"
)

// launcher is a provider whose nodes are the test's fleet clients: each
// launch hands out a name and a bootstrap token.
type launcher struct {
	mu    sync.Mutex
	insts []provider.Instance
}

func (l *launcher) Offerings(context.Context) ([]policy.Offering, error) { return nil, nil }
func (l *launcher) Terminate(context.Context, string) error              { return nil }

func (l *launcher) Launch(_ context.Context, req provider.LaunchRequest) ([]provider.Instance, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []provider.Instance
	for range req.Count {
		n := len(l.insts) + 1
		in := provider.Instance{ProviderID: fmt.Sprintf("i-%d", n), Name: fmt.Sprintf("node-%d", n), Pool: req.Pool,
			Offering: req.Offering, State: "running", LaunchedAt: time.Now(), BootstrapToken: fmt.Sprintf("rfb_%d", n)}
		l.insts = append(l.insts, in)
		out = append(out, in)
	}
	return out, nil
}

func (l *launcher) List(context.Context) ([]provider.Instance, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]provider.Instance, len(l.insts))
	copy(out, l.insts)
	for i := range out {
		out[i].BootstrapToken = ""
	}
	return out, nil
}

// idleAgent is a node agent with two free slots.
type idleAgent struct{}

func (idleAgent) Status() runner.Status { return runner.Status{Slots: 2} }
func (idleAgent) Cordon(string)         {}
func (idleAgent) AbortJobsAt(time.Time) {}
func (idleAgent) LimitJobs(int, string) {}

// jitFleet is a control plane with [github_jit] on the strict fake GitHub
// (an App installed on org acme), its fleet API served, and one registered
// node of pool linux (2 slots) whose GitHub calls go through the fleet.
type jitFleet struct {
	demand []controlplane.Demand // of the scale sets (serve)
	gh     *githubtest.Server
	url    string // the fleet API
	api    *fleet.GitHub
	gate   *ratelimit.Gate // the node's
}

func newJITFleet(tb testing.TB, jitPerMinute float64) *jitFleet {
	tb.Helper()
	gh := githubtest.New(tb)
	gh.AddOrg("acme")
	key := gh.AddApp(101, 202, "acme")
	dir := tb.TempDir()
	keyFile := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		tb.Fatal(err)
	}
	pools := []policy.Pool{{Name: "linux", SlotsPerNode: 2, MinNodes: 1, MaxNodes: 1, ScaleDownDelay: time.Hour,
		Offerings: []policy.Offering{{InstanceType: "container", Zone: "local"}}}}
	cfg, err := githubJITConfig(githubJITFile{URL: gh.URL() + "/acme", AppID: 101, InstallationID: 202, PrivateKeyFile: keyFile,
		JITPerMinute: jitPerMinute, Pools: map[string]githubJITPoolFile{"linux": {Labels: []string{"self-hosted", "linux"}}}}, pools)
	if err != nil {
		tb.Fatal(err)
	}
	f := &jitFleet{gh: gh}
	f.serve(tb, cfg, pools, "")
	return f
}

// serve runs a control plane with the [github_jit] cfg (and its scale
// sets' listeners, whose queued jobs are the control plane's demand, kept
// in f.demand) and one registered node, node-1 of pool linux, whose
// GitHub calls go through the fleet (f.api; with scaleSet, about that
// scale set's runners).
func (f *jitFleet) serve(tb testing.TB, cfg *githubJIT, pools []policy.Pool, scaleSet string) {
	tb.Helper()
	dir := tb.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	jit, err := newGitHubJIT(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	demand, startScaleSets, err := newGitHubScaleSets(cfg, jit, prometheus.NewRegistry(), slog.New(slog.DiscardHandler)) // githubscaleset.go
	if err != nil {
		tb.Fatal(err)
	}
	f.demand = demand
	listened := make(chan struct{})
	go func() { startScaleSets(ctx); close(listened) }()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "fleet.db"))
	if err != nil {
		tb.Fatal(err)
	}
	cp, err := controlplane.New(ctx, controlplane.Options{Store: st, Provider: &launcher{}, Pools: pools, JoinToken: "join",
		Registry: prometheus.NewRegistry(), GitHubJIT: jit, Demand: demand})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(cp.Handler())
	if err := cp.Reconcile(ctx); err != nil {
		tb.Fatal(err)
	}
	// The node: its fleet client registers; its GitHub calls carry the
	// node token it got.
	tok := fleet.NewNodeToken()
	fc, err := fleet.New(fleet.Options{URL: srv.URL, JoinToken: "join", BootstrapToken: "rfb_1", NodeTokenFile: filepath.Join(dir, "node-token"),
		Name: "node-1", ProviderID: "i-1", Pool: "linux", Agent: idleAgent{}, Token: tok, Interval: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	ran := make(chan struct{})
	go func() { fc.Run(ctx); close(ran) }()
	tb.Cleanup(func() {
		cancel()
		for what, ch := range map[string]chan struct{}{"the node's fleet client": ran, "the scale-set listener": listened} {
			select {
			case <-ch:
			case <-time.After(10 * time.Second):
				tb.Errorf("timed out waiting for %s to stop after its context ended", what)
			}
		}
		srv.Close()
		st.Close()
	})
	f.url, f.gate = srv.URL, ratelimit.New(ratelimit.Options{})
	if f.api, err = fleet.NewGitHub(fleet.GitHubOptions{URL: srv.URL, Token: tok, Gate: f.gate, ScaleSet: scaleSet}); err != nil {
		tb.Fatal(err)
	}
}

// TestGitHubJITThroughTheFleet: a node without any GitHub credential mints
// JIT runners for its slots through the control plane, which holds the
// GitHub App key and calls the strict fake GitHub with it; the node lists
// and deletes its runners the same way. GitHub's secondary rate limit
// reaches the node as 429 + Retry-After and pauses its next call.
func TestGitHubJITThroughTheFleet(t *testing.T) {
	f := newJITFleet(t, 0)
	gh, api, gate := f.gh, f.api, f.gate
	callCtx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()

	for i := range 2 {
		name := fmt.Sprintf("node-1-%d-ab%d", i, i)
		j, err := api.MintJIT(callCtx, github.JITRequest{Name: name, Labels: []string{"linux"}})
		if err != nil {
			t.Fatalf("mint for slot %d: %v", i, err)
		}
		if j.Name != name || j.Encoded == "" || j.RunnerID == 0 {
			t.Fatalf("minted %+v", j)
		}
	}
	if _, err := api.MintJIT(callCtx, github.JITRequest{Name: "node-1-2-ff", Labels: []string{"linux"}}); err == nil {
		t.Fatal("a third runner for a 2-slot node was minted")
	}
	if _, err := api.MintJIT(callCtx, github.JITRequest{Name: "node-2-0-ff", Labels: []string{"linux"}}); !errors.Is(err, github.ErrUnauthorized) {
		t.Fatalf("minting another node's name: %v, want a 403 (ErrUnauthorized)", err)
	}
	rs, err := api.ListRunners(callCtx, "")
	if err != nil || len(rs) != 2 {
		t.Fatalf("the node's runners: %+v %v, want 2", rs, err)
	}
	for _, r := range gh.Runners() {
		if r.GroupID != github.DefaultRunnerGroupID || !strings.HasPrefix(r.Name, "node-1-") {
			t.Errorf("GitHub has %+v: want node-1's runners in the Default group", r)
		}
	}
	if err := api.DeleteRunner(callCtx, rs[0].ID); err != nil {
		t.Fatalf("deleting its own runner: %v", err)
	}
	if n := len(gh.Runners()); n != 1 {
		t.Fatalf("GitHub has %d runners after the delete, want 1", n)
	}

	// GitHub's secondary rate limit (403 or 429, with Retry-After): the
	// control plane answers 429 with Retry-After at once, without retrying
	// (the one injected refusal would be followed by a success); the node
	// pauses its GitHub calls until then.
	for i, kind := range []githubtest.FaultKind{githubtest.SecondaryLimit, githubtest.SecondaryLimit429} {
		gh.InjectFault(kind, 1, 2*time.Second, "generate-jitconfig")
		name := fmt.Sprintf("node-1-0-c%d", i)
		before := time.Now()
		if _, err := api.MintJIT(callCtx, github.JITRequest{Name: name, Labels: []string{"linux"}}); !errors.Is(err, github.ErrRateLimited) {
			t.Fatalf("fault %d: mint under GitHub's secondary limit: %v, want ErrRateLimited", kind, err)
		}
		until := gate.Until(ratelimit.Key("fleet-github", f.url))
		if until.Sub(before) < time.Second {
			t.Fatalf("fault %d: the node's GitHub calls are paused until +%s, want about +2s (Retry-After)", kind, until.Sub(before))
		}
		if _, err := api.MintJIT(callCtx, github.JITRequest{Name: name, Labels: []string{"linux"}}); err != nil {
			t.Fatalf("fault %d: mint after the pause: %v", kind, err)
		}
		if now := time.Now(); now.Before(until) {
			t.Errorf("fault %d: the next call went out at %s, before the pause ended at %s", kind, now.Format(time.StampMilli), until.Format(time.StampMilli))
		}
		rs, err := api.ListRunners(callCtx, name)
		if err != nil || len(rs) != 1 {
			t.Fatalf("fault %d: %+v %v", kind, rs, err)
		}
		if err := api.DeleteRunner(callCtx, rs[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	if v := gh.Violations(); len(v) > 0 {
		t.Errorf("protocol violations: %v", v)
	}
}

// TestGitHubJITConfig: [github_jit] needs credentials, a target and the
// labels of known pools; its key file must be private.
func TestGitHubJITConfig(t *testing.T) {
	dir := t.TempDir()
	private, shared := filepath.Join(dir, "key.pem"), filepath.Join(dir, "shared.pem")
	if err := os.WriteFile(private, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shared, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	pools := []policy.Pool{{Name: "linux", Labels: []string{"linux", "big"}}, {Name: "wide", Labels: []string{"linux", "big", "gpu"}}}
	ok := githubJITFile{URL: "https://github.com/acme", AppID: 1, InstallationID: 2, PrivateKeyFile: private,
		Pools: map[string]githubJITPoolFile{"linux": {Labels: []string{"linux"}}}}
	tests := []struct {
		name    string
		edit    func(f *githubJITFile)
		wantErr string
		// linux is the labels pool linux's nodes may mint with (when set).
		linux []string
	}{
		{name: "app", linux: []string{"linux"}},
		{name: "pool labels trimmed as the nodes' are", edit: func(f *githubJITFile) {
			f.Pools = map[string]githubJITPoolFile{"linux": {Labels: []string{" linux", "big "}}}
		}, linux: []string{"linux", "big"}},
		{name: "key readable by others", edit: func(f *githubJITFile) { f.PrivateKeyFile = shared }, wantErr: "chmod 600"},
		{name: "no credentials", edit: func(f *githubJITFile) { f.AppID, f.InstallationID, f.PrivateKeyFile = 0, 0, "" }, wantErr: "no credentials"},
		{name: "bad url", edit: func(f *githubJITFile) { f.URL = "github.com" }, wantErr: "[github_jit] url"},
		{name: "unknown pool", edit: func(f *githubJITFile) {
			f.Pools = map[string]githubJITPoolFile{"gpu": {Labels: []string{"gpu"}}}
		}, wantErr: `no [[pools]] is named "gpu"`},
		{name: "pool without labels", edit: func(f *githubJITFile) {
			f.Pools = map[string]githubJITPoolFile{"linux": {}}
		}, wantErr: "labels"},
		{name: "pool label with a comma", edit: func(f *githubJITFile) {
			f.Pools = map[string]githubJITPoolFile{"linux": {Labels: []string{"linux,big"}}}
		}, wantErr: "[github_jit.pools.linux] label \"linux,big\": want 1 to 256 characters, no commas"},
		{name: "pool with more labels than a runner may carry", edit: func(f *githubJITFile) {
			f.Pools = map[string]githubJITPoolFile{"linux": {Labels: slices.Repeat([]string{"linux"}, 101)}}
		}, wantErr: "at most 100 labels"},
		{name: "scale set", edit: func(f *githubJITFile) {
			f.ScaleSets = map[string]githubJITScaleSetFile{"big": {Pool: "linux"}}
		}},
		{name: "scale sets only", edit: func(f *githubJITFile) {
			f.Pools, f.ScaleSets = nil, map[string]githubJITScaleSetFile{"big": {Pool: "linux", MinIdle: 1}}
		}},
		{name: "neither pools nor scale sets", edit: func(f *githubJITFile) { f.Pools = nil }, wantErr: "[github_jit.scale_sets.NAME]"},
		{name: "scale set without a pool", edit: func(f *githubJITFile) {
			f.ScaleSets = map[string]githubJITScaleSetFile{"big": {}}
		}, wantErr: "[github_jit.scale_sets.big]: pool"},
		{name: "scale set of an unknown pool", edit: func(f *githubJITFile) {
			f.ScaleSets = map[string]githubJITScaleSetFile{"big": {Pool: "arm"}}
		}, wantErr: `no [[pools]] is named "arm"`},
		{name: "scale set whose jobs land in another pool", edit: func(f *githubJITFile) {
			f.ScaleSets = map[string]githubJITScaleSetFile{"big": {Pool: "wide"}}
		}, wantErr: "must be the first [[pools]]"},
		{name: "scale set label outside its pool", edit: func(f *githubJITFile) {
			f.ScaleSets = map[string]githubJITScaleSetFile{"big": {Pool: "linux", Labels: []string{"big", "arm64"}}}
		}, wantErr: "must be the first [[pools]]"},
		{name: "scale set name", edit: func(f *githubJITFile) {
			f.ScaleSets = map[string]githubJITScaleSetFile{"my set": {Pool: "linux", Labels: []string{"big"}}}
		}, wantErr: "scale set name"},
		{name: "scale set min idle above max", edit: func(f *githubJITFile) {
			f.ScaleSets = map[string]githubJITScaleSetFile{"big": {Pool: "linux", MinIdle: 3, MaxRunners: 2}}
		}, wantErr: "min_idle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := ok
			if tc.edit != nil {
				tc.edit(&f)
			}
			g, err := githubJITConfig(f, pools)
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if got := g.Pools["linux"].Labels; tc.linux != nil && !slices.Equal(got, tc.linux) {
				t.Errorf("pool linux's labels %q, want %q", got, tc.linux)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestGitHubJITMintBudget: past the App's minting budget the control plane
// answers 429 with the time until the budget refills (it does not hold the
// node's request), GitHub sees no mint, and the node pauses its calls.
func TestGitHubJITMintBudget(t *testing.T) {
	f := newJITFleet(t, 6) // one mint every 10 s, a burst of 1
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := f.api.MintJIT(ctx, github.JITRequest{Name: "node-1-0-aa", Labels: []string{"linux"}}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if _, err := f.api.MintJIT(ctx, github.JITRequest{Name: "node-1-1-aa", Labels: []string{"linux"}}); !errors.Is(err, github.ErrRateLimited) {
		t.Fatalf("a mint past the budget: %v, want ErrRateLimited", err)
	}
	if d := f.gate.Until(ratelimit.Key("fleet-github", f.url)).Sub(before); d < 8*time.Second || d > 11*time.Second {
		t.Errorf("the node pauses for %s, want about 10 s (the budget's refill)", d)
	}
	mints := 0
	for _, r := range f.gh.Requests() {
		if strings.HasSuffix(r.Path, "/generate-jitconfig") {
			mints++
		}
	}
	if mints != 1 {
		t.Errorf("GitHub saw %d mints, want 1", mints)
	}
}
