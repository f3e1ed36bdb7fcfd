package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runfleet/runfleet/autoscaler/demand/gitlab"
)

// gitlabDemandFile is one [[demand.gitlab]]: a GitLab instance whose
// pending jobs are counted and whose pipelines feed the forecast.
type gitlabDemandFile struct {
	URL       string   `toml:"url"`
	TokenFile string   `toml:"token_file"`
	Projects  []string `toml:"projects"`
	// Groups (ids or full paths) add their projects, subgroups included;
	// instance = true adds every project the token sees that was active
	// in the last day.
	Groups   []string `toml:"groups"`
	Instance bool     `toml:"instance"`
	// Pipelines (default true) watches the pipelines of those projects
	// every pipeline_interval (default 15s) for the forecast: runs
	// started, created jobs of later stages known ahead.
	Pipelines        *bool         `toml:"pipelines"`
	PipelineInterval time.Duration `toml:"pipeline_interval"`
	// HookPath, when set, serves GitLab's Pipeline Hook webhooks on the
	// fleet API's listener; the webhook's secret token is in
	// hook_token_file.
	HookPath      string `toml:"hook_path"`
	HookTokenFile string `toml:"hook_token_file"`
}

// gitlabDemand is one checked [[demand.gitlab]].
type gitlabDemand struct {
	URL              string
	Token            string
	Projects         []string
	Groups           []string
	Instance         bool
	Pipelines        bool
	PipelineInterval time.Duration
	HookPath         string
	HookToken        string
}

// defaultPipelineInterval is how often pipelines are listed.
const defaultPipelineInterval = 15 * time.Second

func gitlabConfig(i int, f gitlabDemandFile) (gitlabDemand, error) {
	var errs []error
	at := fmt.Sprintf("[[demand.gitlab]] %d", i)
	g := gitlabDemand{URL: f.URL, Projects: f.Projects, Groups: f.Groups, Instance: f.Instance,
		Pipelines: f.Pipelines == nil || *f.Pipelines, PipelineInterval: f.PipelineInterval, HookPath: f.HookPath}
	var err error
	if g.Token, err = readSecret(at+" token_file", f.TokenFile); err != nil {
		errs = append(errs, err)
	}
	if g.URL == "" || (len(g.Projects) == 0 && len(g.Groups) == 0 && !g.Instance) {
		errs = append(errs, fmt.Errorf("%s: url and projects, groups or instance = true are required", at))
	}
	if g.PipelineInterval == 0 {
		g.PipelineInterval = defaultPipelineInterval
	}
	if g.PipelineInterval < 0 {
		errs = append(errs, fmt.Errorf("%s: pipeline_interval %s is negative", at, g.PipelineInterval))
	}
	if g.HookPath != "" {
		if !strings.HasPrefix(g.HookPath, "/") || strings.HasPrefix(g.HookPath, "/fleet/") {
			errs = append(errs, fmt.Errorf("%s: hook_path %q: want an absolute path outside /fleet/", at, g.HookPath))
		}
		if !g.Pipelines {
			errs = append(errs, fmt.Errorf("%s: hook_path needs pipelines = true", at))
		}
		if g.HookToken, err = readSecret(at+" hook_token_file", f.HookTokenFile); err != nil {
			errs = append(errs, err)
		}
	}
	return g, errors.Join(errs...)
}

// newGitLabDemand builds the source of one [[demand.gitlab]], its
// Pipeline Hook handler (nil without hook_path) and start, which watches
// its pipelines until ctx ends (a no-op with pipelines = false).
func newGitLabDemand(g gitlabDemand, fc gitlab.Forecast, reg prometheus.Registerer, logger *slog.Logger) (src *gitlab.Source, hook http.Handler, start func(ctx context.Context), err error) {
	o := gitlab.Options{BaseURL: g.URL, Token: g.Token, Projects: g.Projects, Groups: g.Groups, Instance: g.Instance,
		Logger: logger.With("gitlab", g.URL)}
	if g.Pipelines {
		o.Forecast = fc
	}
	if src, err = gitlab.New(o); err != nil {
		return nil, nil, nil, err
	}
	if g.HookPath != "" {
		if hook, err = src.NewPipelineHook(g.HookToken, reg); err != nil {
			return nil, nil, nil, err
		}
	}
	start = func(ctx context.Context) {
		if g.Pipelines {
			_ = src.RunPipelines(ctx, g.PipelineInterval)
		}
	}
	return src, hook, start, nil
}

// hookPathsError reports webhook paths served twice on the fleet API's
// listener (GitHub's and each GitLab instance's).
func hookPathsError(c *config) error {
	seen := map[string]bool{}
	if c.GitHub != nil {
		seen[c.GitHub.Path] = true
	}
	var errs []error
	for i, g := range c.GitLab {
		if g.HookPath == "" {
			continue
		}
		if seen[g.HookPath] {
			errs = append(errs, fmt.Errorf("[[demand.gitlab]] %d: hook_path %q is already served", i, g.HookPath))
		}
		seen[g.HookPath] = true
	}
	return errors.Join(errs...)
}
