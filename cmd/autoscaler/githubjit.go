package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/time/rate"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/runner/clock"
	runnerconfig "github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/ratelimit"
)

// githubJITFile is [github_jit]: the GitHub credentials the control plane
// mints just-in-time runner configs with for nodes whose [[github]] tables
// say credentials = "fleet". The App key lives here only.
type githubJITFile struct {
	// URL is where runners register: https://github.com/ORG, /ORG/REPO or
	// /enterprises/ENT (or the same on a GitHub Enterprise Server host).
	URL            string `toml:"url"`
	AppID          int64  `toml:"app_id"`
	InstallationID int64  `toml:"installation_id"`
	PrivateKeyFile string `toml:"private_key_file"`
	TokenFile      string `toml:"token_file"`
	// NamePrefix is the nodes' [[github]] name_prefix.
	NamePrefix string `toml:"name_prefix"`
	// JITPerMinute budgets minting (0: 170, GitHub's limit per App).
	JITPerMinute float64 `toml:"jit_per_minute"`
	// Pools: what the nodes of each pool may mint.
	Pools map[string]githubJITPoolFile `toml:"pools"`
	// ScaleSets: runner scale sets whose sessions the control plane holds
	// (githubscaleset.go).
	ScaleSets map[string]githubJITScaleSetFile `toml:"scale_sets"`
}

// githubJITPoolFile is [github_jit.pools.NAME].
type githubJITPoolFile struct {
	Labels      []string `toml:"labels"`
	RunnerGroup string   `toml:"runner_group"` // name; "" = Default
}

// githubJIT is the checked [github_jit].
type githubJIT struct {
	URL          string
	Auth         github.Auth
	NamePrefix   string
	JITPerMinute float64
	Pools        map[string]githubJITPoolFile
	ScaleSets    map[string]githubJITScaleSetFile
}

func githubJITConfig(f githubJITFile, pools []policy.Pool) (*githubJIT, error) {
	var errs []error
	g := &githubJIT{URL: f.URL, NamePrefix: f.NamePrefix, JITPerMinute: f.JITPerMinute, Pools: map[string]githubJITPoolFile{},
		Auth: github.Auth{AppID: f.AppID, InstallationID: f.InstallationID}}
	if _, err := github.ParseURL(f.URL); err != nil {
		errs = append(errs, fmt.Errorf("[github_jit] url: %w", err))
	}
	if f.PrivateKeyFile != "" {
		key, err := readOwnerOnly("[github_jit] private_key_file", f.PrivateKeyFile)
		if err != nil {
			errs = append(errs, err)
		}
		g.Auth.PrivateKey = []byte(key)
	}
	if f.TokenFile != "" {
		tok, err := readOwnerOnly("[github_jit] token_file", f.TokenFile)
		if err != nil {
			errs = append(errs, err)
		}
		g.Auth.Token = tok
	}
	if len(errs) == 0 {
		if err := g.Auth.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("[github_jit]: %w (app_id, installation_id, private_key_file, or token_file)", err))
		}
	}
	if f.JITPerMinute < 0 {
		errs = append(errs, errors.New("[github_jit] jit_per_minute must not be negative"))
	}
	if len(f.Pools) == 0 && len(f.ScaleSets) == 0 {
		errs = append(errs, errors.New("[github_jit] needs a [github_jit.pools.NAME] table with the labels of each pool whose nodes run GitHub jobs, or a [github_jit.scale_sets.NAME] table"))
	}
	var err error
	if g.ScaleSets, err = scaleSetsConfig(f.ScaleSets, pools); err != nil { // githubscaleset.go
		errs = append(errs, err)
	}
	for name, p := range f.Pools {
		if !slices.ContainsFunc(pools, func(pl policy.Pool) bool { return pl.Name == name }) {
			errs = append(errs, fmt.Errorf("[github_jit.pools.%s]: no [[pools]] is named %q", name, name))
		}
		labels, err := runnerconfig.GitHubLabels(p.Labels) // the nodes' own rule
		switch {
		case len(p.Labels) == 0:
			errs = append(errs, fmt.Errorf("[github_jit.pools.%s] labels: the labels the pool's runners may carry are required", name))
		case err != nil:
			errs = append(errs, fmt.Errorf("[github_jit.pools.%s] %w", name, err))
		}
		p.Labels = labels // trimmed, as the nodes' are
		g.Pools[name] = p
	}
	return g, errors.Join(errs...)
}

// readOwnerOnly reads a secret file that only its owner may read (mode
// 0600 or stricter).
func readOwnerOnly(what, path string) (string, error) {
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("%s %q must be absolute", what, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s %s has mode %04o: others may read it; chmod 600 %s", what, path, fi.Mode().Perm(), path)
	}
	return readSecret(what, path)
}

// newGitHubJIT builds the control plane's GitHub JIT options: one REST
// client with the [github_jit] credentials, the runner group of each pool
// resolved once.
func newGitHubJIT(ctx context.Context, g *githubJIT, logger *slog.Logger) (*controlplane.GitHubJITOptions, error) {
	gate := ratelimit.New(ratelimit.Options{Logger: logger})
	client, err := github.NewClient(github.ClientOptions{
		URL: g.URL, Auth: g.Auth, UserAgent: "runfleet-autoscaler/" + version, Logger: logger,
		// The minting budget is kept by jitRunners, which answers 429
		// rather than hold a node's request while it refills.
		JITBudget: rate.NewLimiter(rate.Inf, 1), RateGate: gate,
		// Nodes wait out rate limits themselves (429 + Retry-After): a
		// request handler never sleeps on one.
		RateLimitFailFast: true,
	})
	if err != nil {
		return nil, fmt.Errorf("[github_jit]: %w", err)
	}
	o := &controlplane.GitHubJITOptions{API: &jitRunners{c: client, gate: gate, clk: clock.Real{}, budget: github.NewMintLimiter(g.JITPerMinute)},
		NamePrefix: g.NamePrefix, Pools: map[string]controlplane.GitHubJITPool{}}
	for name, p := range g.Pools {
		id, err := client.RunnerGroupID(ctx, p.RunnerGroup)
		if err != nil {
			return nil, fmt.Errorf("[github_jit.pools.%s] runner_group: %w", name, err)
		}
		o.Pools[name] = controlplane.GitHubJITPool{Labels: p.Labels, RunnerGroupID: id}
	}
	logger.Info("minting GitHub JIT runner configs for nodes", "target", client.Target(), "auth", g.Auth, "pools", len(o.Pools))
	return o, nil
}

// jitRunners is controlplane.GitHubRunners on runner/github's client; a
// credential paused by a rate limit fails at once with the pause left.
type jitRunners struct {
	c    *github.Client
	gate *ratelimit.Gate
	clk  clock.Clock
	// budget is the App's JIT minting budget (GitHub's secondary limit).
	budget *rate.Limiter
}

// maxBudgetWait is the longest a mint waits for the minting budget in
// the request; a longer wait is answered 429 with Retry-After.
const maxBudgetWait = 2 * time.Second

var errMintBudget = errors.New("github: JIT minting budget spent")

// reserve takes one mint from the budget, waiting up to maxBudgetWait.
func (a *jitRunners) reserve(ctx context.Context) error {
	now := a.clk.Now()
	r := a.budget.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if !r.OK() || d > maxBudgetWait {
		r.CancelAt(now)
		return &controlplane.GitHubRateLimitError{RetryAfter: max(d, time.Second), Err: errMintBudget}
	}
	if d <= 0 {
		return nil
	}
	if err := clock.Sleep(ctx, a.clk, d); err != nil {
		r.CancelAt(a.clk.Now())
		return err
	}
	return nil
}

var _ controlplane.GitHubRunners = (*jitRunners)(nil)

// paused is the rate limit in force, if any.
func (a *jitRunners) paused() error {
	if left := a.gate.Until(a.c.RateKey()).Sub(a.clk.Now()); left > 0 {
		return &controlplane.GitHubRateLimitError{RetryAfter: left, Err: github.ErrRateLimited}
	}
	return nil
}

// mapErr turns runner/github's typed errors into the control plane's.
func (a *jitRunners) mapErr(err error) error {
	var kind error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, github.ErrRateLimited) || a.gate.Until(a.c.RateKey()).After(a.clk.Now()):
		// GitHub's answer paused the credential (Retry-After, an exhausted
		// primary limit), whatever error it became.
		left := max(a.gate.Until(a.c.RateKey()).Sub(a.clk.Now()), time.Second)
		return &controlplane.GitHubRateLimitError{RetryAfter: left, Err: err}
	case errors.Is(err, github.ErrRunnerBusy):
		kind = controlplane.ErrGitHubBusy
	case errors.Is(err, github.ErrNotFound):
		kind = controlplane.ErrGitHubNotFound
	case errors.Is(err, github.ErrInvalid):
		kind = controlplane.ErrGitHubInvalid
	case errors.Is(err, github.ErrUnauthorized):
		kind = controlplane.ErrGitHubUnauthorized
	default:
		return err
	}
	return fmt.Errorf("%w: %w", kind, err)
}

func (a *jitRunners) MintJIT(ctx context.Context, req controlplane.GitHubJITRequest) (fleetapi.JITConfig, error) {
	if err := a.paused(); err != nil {
		return fleetapi.JITConfig{}, err
	}
	if err := a.reserve(ctx); err != nil {
		return fleetapi.JITConfig{}, err
	}
	cfg, err := a.c.MintJIT(ctx, github.JITRequest{Name: req.Name, RunnerGroupID: req.RunnerGroupID, Labels: req.Labels})
	if err != nil {
		return fleetapi.JITConfig{}, a.mapErr(err)
	}
	return fleetapi.JITConfig{RunnerID: cfg.RunnerID, Name: cfg.Name, Encoded: cfg.Encoded}, nil
}

func (a *jitRunners) ListRunners(ctx context.Context, name string) ([]fleetapi.Runner, error) {
	if err := a.paused(); err != nil {
		return nil, err
	}
	rs, err := a.c.ListRunners(ctx, name)
	if err != nil {
		return nil, a.mapErr(err)
	}
	out := make([]fleetapi.Runner, len(rs))
	for i, r := range rs {
		out[i] = fleetapi.Runner(r)
	}
	return out, nil
}

func (a *jitRunners) Runner(ctx context.Context, id int64) (fleetapi.Runner, error) {
	if err := a.paused(); err != nil {
		return fleetapi.Runner{}, err
	}
	r, err := a.c.Runner(ctx, id)
	return fleetapi.Runner(r), a.mapErr(err)
}

func (a *jitRunners) DeleteRunner(ctx context.Context, id int64) error {
	if err := a.paused(); err != nil {
		return err
	}
	return a.mapErr(a.c.DeleteRunner(ctx, id))
}

func (a *jitRunners) RunnerJob(ctx context.Context, ref fleetapi.JobRef, runner string) (fleetapi.Job, bool, error) {
	if err := a.paused(); err != nil {
		return fleetapi.Job{}, false, err
	}
	j, found, err := a.c.RunnerJob(ctx, github.JobRef(ref), runner)
	if err != nil {
		return fleetapi.Job{}, false, a.mapErr(err)
	}
	return fleetapi.Job(j), found, nil
}
