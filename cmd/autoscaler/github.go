package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/go-github/v92/github"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/runfleet/runfleet/autoscaler/githubhook"
)

// githubDemandFile is [demand.github]: the workflow_job webhook receiver,
// served on the fleet API's listener at path, plus the periodic REST
// reconcile of repos that repairs lost deliveries.
type githubDemandFile struct {
	// Path the webhook is served on (default /github/webhook).
	Path       string `toml:"path"`
	SecretFile string `toml:"secret_file"`
	// Repos ("owner/name") reconciled through the REST API with the token
	// in token_file; api_url is for GitHub Enterprise Server (and tests).
	Repos             []string      `toml:"repos"`
	TokenFile         string        `toml:"token_file"`
	APIURL            string        `toml:"api_url"`
	ReconcileInterval time.Duration `toml:"reconcile_interval"`
}

// githubDemand is the checked [demand.github].
type githubDemand struct {
	Path              string
	Secret            string
	Repos             []string
	Token             string
	APIURL            string
	ReconcileInterval time.Duration
}

func githubConfig(f githubDemandFile) (*githubDemand, error) {
	var errs []error
	g := &githubDemand{Path: f.Path, Repos: f.Repos, APIURL: f.APIURL, ReconcileInterval: f.ReconcileInterval}
	if g.Path == "" {
		g.Path = "/github/webhook"
	}
	if !strings.HasPrefix(g.Path, "/") || strings.HasPrefix(g.Path, "/fleet/") {
		errs = append(errs, fmt.Errorf("[demand.github] path %q: want an absolute path outside /fleet/", g.Path))
	}
	var err error
	if g.Secret, err = readSecret("[demand.github] secret_file", f.SecretFile); err != nil {
		errs = append(errs, err)
	}
	if len(g.Repos) > 0 {
		if g.Token, err = readSecret("[demand.github] token_file (needed to reconcile repos)", f.TokenFile); err != nil {
			errs = append(errs, err)
		}
	}
	if g.ReconcileInterval == 0 {
		g.ReconcileInterval = 5 * time.Minute
	}
	if g.ReconcileInterval < 0 {
		errs = append(errs, fmt.Errorf("[demand.github] reconcile_interval %s is negative", g.ReconcileInterval))
	}
	return g, errors.Join(errs...)
}

// newGitHubDemand builds the webhook receiver, which feeds fc; start runs
// its REST reconcile (a no-op without repos) until ctx ends.
func newGitHubDemand(g *githubDemand, fc githubhook.Forecast, reg prometheus.Registerer, logger *slog.Logger) (rc *githubhook.Receiver, start func(ctx context.Context), err error) {
	o := githubhook.Options{Secret: []byte(g.Secret), Logger: logger, Registerer: reg, Repos: g.Repos, Forecast: fc}
	if len(g.Repos) > 0 {
		opts := []github.ClientOptionsFunc{github.WithAuthToken(g.Token), github.WithTimeout(30 * time.Second)}
		if g.APIURL != "" {
			opts = append(opts, github.WithEnterpriseURLs(g.APIURL, g.APIURL))
		}
		gh, err := github.NewClient(opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("[demand.github]: %w", err)
		}
		o.Actions = gh.Actions
	}
	if rc, err = githubhook.New(o); err != nil {
		return nil, nil, err
	}
	start = func(ctx context.Context) {
		if len(g.Repos) == 0 {
			return
		}
		_ = rc.RunReconcile(ctx, g.ReconcileInterval)
	}
	return rc, start, nil
}
