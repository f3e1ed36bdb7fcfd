package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	actions "github.com/actions/scaleset"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/policy"
	runnerconfig "github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/scaleset"
)

// githubJITScaleSetFile is [github_jit.scale_sets.NAME]: a runner scale
// set whose message session the control plane holds (as
// actions-runner-controller's listener does) with the [github_jit]
// credentials. Its statistics are demand for the pool; the pool's nodes,
// with [[github_scale_set]] credentials = "fleet", get its JIT runner
// configs through the fleet API.
type githubJITScaleSetFile struct {
	Pool        string   `toml:"pool"`
	Labels      []string `toml:"labels"`       // default: the scale set's name
	RunnerGroup string   `toml:"runner_group"` // name; "" = Default
	MinIdle     int      `toml:"min_idle"`
	MaxRunners  int      `toml:"max_runners"` // default 10
}

// scaleSetsConfig checks the [github_jit.scale_sets.NAME] tables: each
// names a pool whose labels hold every label of the scale set (and is the
// first such pool, so the scale set's queued jobs are that pool's demand).
func scaleSetsConfig(fs map[string]githubJITScaleSetFile, pools []policy.Pool) (map[string]githubJITScaleSetFile, error) {
	var errs []error
	out := map[string]githubJITScaleSetFile{}
	for name, s := range fs {
		where := "[github_jit.scale_sets." + name + "]"
		if !runnerconfig.ValidScaleSetName(name) {
			errs = append(errs, fmt.Errorf("%s: scale set name: want 1 to 100 letters, digits, '.', '_' or '-'", where))
		}
		if len(s.Labels) == 0 {
			s.Labels = []string{name}
		}
		if s.MaxRunners == 0 {
			s.MaxRunners = runnerconfig.DefaultScaleSetMaxRunners // the agent's default
		}
		if s.MaxRunners < 0 || s.MinIdle < 0 || s.MinIdle > s.MaxRunners {
			errs = append(errs, fmt.Errorf("%s: want 0 <= min_idle (%d) <= max_runners (%d)", where, s.MinIdle, s.MaxRunners))
		}
		i := slices.IndexFunc(pools, func(p policy.Pool) bool { return p.Name == s.Pool })
		switch {
		case s.Pool == "":
			errs = append(errs, fmt.Errorf("%s: pool: the [[pools]] whose nodes run the scale set's runners is required", where))
		case i < 0:
			errs = append(errs, fmt.Errorf("%s: no [[pools]] is named %q", where, s.Pool))
		case policy.PoolFor(pools, s.Labels) != i:
			errs = append(errs, fmt.Errorf("%s: labels %v: pool %q (labels %v) must be the first [[pools]] holding every one of them, so that the scale set's jobs are its demand",
				where, s.Labels, s.Pool, pools[i].Labels))
		}
		out[name] = s
	}
	return out, errors.Join(errs...)
}

// scaleSetOwner names the control plane's message sessions.
const scaleSetOwner = "runfleet-control-plane"

// newGitHubScaleSets builds a listener per [github_jit.scale_sets.NAME]
// with the [github_jit] credentials (its calls wait at the same
// rate-limit gate as the REST client's; its mints share the App's
// budget) and adds the scale sets to o. start runs the listeners (their
// sessions) until ctx ends; demand is their queued jobs.
func newGitHubScaleSets(g *githubJIT, o *controlplane.GitHubJITOptions, reg prometheus.Registerer, logger *slog.Logger) (demand []controlplane.Demand, start func(context.Context), err error) {
	start = func(context.Context) {}
	if len(g.ScaleSets) == 0 {
		return nil, start, nil
	}
	rest := o.API.(*jitRunners)
	u, err := url.Parse(g.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("[github_jit] url: %w", err)
	}
	rg := &scaleset.RateGate{Gate: rest.gate, Key: github.GateKey(u.Host, g.Auth.AppID, g.Auth.Token)}
	// The sessions' client waits out rate limits (it serves no one); the
	// nodes' calls fail fast and the node waits (429 + Retry-After).
	client, err := scaleSetClient(g, rg.HTTPOption(), logger)
	if err != nil {
		return nil, nil, err
	}
	calls, err := scaleSetClient(g, rg.FailFastHTTPOption(), logger)
	if err != nil {
		return nil, nil, err
	}
	o.ScaleSets = map[string]controlplane.GitHubScaleSet{}
	var ls []*scaleset.Listener
	for name, s := range g.ScaleSets {
		ss := &scaleSetRunners{c: calls, rest: rest}
		l, err := scaleset.New(scaleset.Options{
			Config: scaleset.Config{Name: name, Labels: s.Labels, RunnerGroup: s.RunnerGroup, MinIdle: s.MinIdle, Max: s.MaxRunners, Owner: scaleSetOwner},
			API:    client, Logger: logger, Registerer: reg, RateGate: rg, JobEvents: ss,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("[github_jit.scale_sets.%s]: %w", name, err)
		}
		ss.l = l
		ls = append(ls, l)
		o.ScaleSets[name] = controlplane.GitHubScaleSet{Pool: s.Pool, API: ss}
		demand = append(demand, scaleSetDemand{l})
		logger.Info("holding a GitHub scale set's message session for the fleet", "scale_set", name, "pool", s.Pool, "labels", s.Labels)
	}
	start = func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, l := range ls {
			wg.Go(func() {
				if err := l.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
					logger.Error("GitHub scale set listener stopped", "err", err)
				}
			})
		}
		wg.Wait()
	}
	return demand, start, nil
}

// scaleSetClient is a scale-set client with the [github_jit] credentials
// whose calls use the gated HTTP options gated.
func scaleSetClient(g *githubJIT, gated []actions.HTTPOption, logger *slog.Logger) (*actions.Client, error) {
	info := actions.SystemInfo{System: "runfleet", Version: version, Subsystem: "control-plane"}
	opts := append([]actions.HTTPOption{actions.WithLogger(logger.With("github_jit", "scale sets"))}, gated...)
	var client *actions.Client
	var err error
	if g.Auth.AppID != 0 {
		client, err = actions.NewClientWithGitHubApp(actions.ClientWithGitHubAppConfig{GitHubConfigURL: g.URL, SystemInfo: info,
			GitHubAppAuth: actions.GitHubAppAuth{ClientID: strconv.FormatInt(g.Auth.AppID, 10), InstallationID: g.Auth.InstallationID, PrivateKey: string(g.Auth.PrivateKey)}}, opts...)
	} else {
		client, err = actions.NewClientWithPersonalAccessToken(actions.NewClientWithPersonalAccessTokenConfig{
			GitHubConfigURL: g.URL, PersonalAccessToken: g.Auth.Token, SystemInfo: info}, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("[github_jit] scale sets: %w", err)
	}
	return client, nil
}

// scaleSetDemand is a scale set's queued jobs as the control plane's
// demand (the session's statistics: assigned jobs no runner runs yet).
type scaleSetDemand struct{ l *scaleset.Listener }

func (d scaleSetDemand) Queued(ctx context.Context) ([]policy.QueuedJobs, error) {
	qs, err := d.l.Queued(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]policy.QueuedJobs, len(qs))
	for i, q := range qs {
		out[i] = policy.QueuedJobs{Labels: q.Labels, Count: q.Count}
	}
	return out, nil
}

// scaleSetRunners is controlplane.GitHubScaleSetRunners on the scale-set
// client and the listener's session.
type scaleSetRunners struct {
	c    *actions.Client
	l    *scaleset.Listener
	rest *jitRunners // the App's rate-limit pause and minting budget

	mu   sync.Mutex
	jobs sessionJobs // scalesetjobs.go
}

var (
	_ controlplane.GitHubScaleSetRunners = (*scaleSetRunners)(nil)
	_ scaleset.JobEvents                 = (*scaleSetRunners)(nil)
)

func (s *scaleSetRunners) JobStarted(msg *actions.JobStarted) {
	s.record(msg.RunnerName, controlplane.ScaleSetJob{ID: msg.RunnerRequestID})
}

func (s *scaleSetRunners) JobCompleted(msg *actions.JobCompleted) {
	s.record(msg.RunnerName, controlplane.ScaleSetJob{ID: msg.RunnerRequestID, Completed: true, Result: msg.Result})
}

func (s *scaleSetRunners) record(runner string, job controlplane.ScaleSetJob) {
	if runner == "" {
		return
	}
	now := s.rest.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs.record(runner, job, now)
}

func (s *scaleSetRunners) Job(runner string) (controlplane.ScaleSetJob, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs.job(runner)
}

// mapErr turns the scale-set client's errors into the control plane's.
func (s *scaleSetRunners) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if rl := s.rest.paused(); rl != nil {
		return fmt.Errorf("%w: %w", rl, err)
	}
	var kind error
	switch st := scaleset.HTTPStatus(err); {
	case errors.Is(err, actions.RunnerNotFoundError) || st == http.StatusNotFound:
		kind = controlplane.ErrGitHubNotFound
	case errors.Is(err, actions.JobStillRunningError):
		kind = controlplane.ErrGitHubBusy
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		kind = controlplane.ErrGitHubUnauthorized
	case errors.Is(err, actions.RunnerExistsError) || st == http.StatusBadRequest || st == http.StatusConflict || st == http.StatusUnprocessableEntity:
		kind = controlplane.ErrGitHubInvalid
	default:
		return err
	}
	return fmt.Errorf("%w: %w", kind, err)
}

func (s *scaleSetRunners) MintJIT(ctx context.Context, name string) (fleetapi.JITConfig, error) {
	if err := s.rest.paused(); err != nil {
		return fleetapi.JITConfig{}, err
	}
	id := s.l.ScaleSetID()
	if id == 0 {
		return fleetapi.JITConfig{}, &controlplane.GitHubRateLimitError{RetryAfter: 5 * time.Second,
			Err: errors.New("the scale set's session is not open yet")}
	}
	if err := s.rest.reserve(ctx); err != nil {
		return fleetapi.JITConfig{}, err
	}
	cfg, err := s.c.GenerateJitRunnerConfig(ctx, &actions.RunnerScaleSetJitRunnerSetting{Name: name, WorkFolder: "_work"}, id)
	if err != nil {
		return fleetapi.JITConfig{}, s.mapErr(err)
	}
	if cfg.Runner == nil || cfg.EncodedJITConfig == "" {
		return fleetapi.JITConfig{}, errors.New("github: scale-set JIT config without a runner")
	}
	return fleetapi.JITConfig{RunnerID: int64(cfg.Runner.ID), Name: cfg.Runner.Name, Encoded: cfg.EncodedJITConfig}, nil
}

func (s *scaleSetRunners) RunnerByName(ctx context.Context, name string) (fleetapi.Runner, bool, error) {
	if err := s.rest.paused(); err != nil {
		return fleetapi.Runner{}, false, err
	}
	r, err := s.c.GetRunnerByName(ctx, name)
	if err != nil || r == nil {
		return fleetapi.Runner{}, false, s.mapErr(err)
	}
	return fleetapi.Runner{ID: int64(r.ID), Name: r.Name}, true, nil
}

func (s *scaleSetRunners) Runner(ctx context.Context, id int64) (fleetapi.Runner, error) {
	if err := s.rest.paused(); err != nil {
		return fleetapi.Runner{}, err
	}
	r, err := s.c.GetRunner(ctx, int(id))
	if err != nil {
		return fleetapi.Runner{}, s.mapErr(err)
	}
	return fleetapi.Runner{ID: int64(r.ID), Name: r.Name}, nil
}

func (s *scaleSetRunners) DeleteRunner(ctx context.Context, id int64) error {
	if err := s.rest.paused(); err != nil {
		return err
	}
	err := s.mapErr(s.c.RemoveRunner(ctx, id))
	if errors.Is(err, controlplane.ErrGitHubNotFound) {
		return nil
	}
	return err
}
