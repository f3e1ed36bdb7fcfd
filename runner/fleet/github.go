package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/ratelimit"
)

// GitHubOptions configure a GitHub client.
type GitHubOptions struct {
	// URL is the fleet API's address ([fleet] url).
	URL   string
	Token *NodeToken
	// HTTPClient carries the fleet's TLS settings (NewHTTPClient).
	HTTPClient *http.Client
	// Gate is the agent's rate-limit gate (nil: one of its own): a 429
	// with Retry-After from the control plane (GitHub's rate limit, passed
	// on) pauses every GitHub call of the node until it lifts.
	Gate   *ratelimit.Gate
	Logger *slog.Logger
	// ScaleSet, when set, makes every call about the node's runners of
	// that scale set, whose session the control plane holds ([[github_scale_set]]
	// credentials = "fleet").
	ScaleSet string
}

// GitHub is runner/github's runner API over the fleet API: for a
// [[github]] table with credentials = "fleet", the control plane mints the
// node's JIT runner configs and answers for the node's own runners, so no
// GitHub credential is on the node. It plugs into github.Source as the
// REST client does.
type GitHub struct {
	base     string
	hc       *http.Client
	token    *NodeToken
	scaleSet string
}

var _ github.RunnerAPI = (*GitHub)(nil)

// NewGitHub returns the fleet-backed GitHub runner API.
func NewGitHub(o GitHubOptions) (*GitHub, error) {
	if o.URL == "" || o.Token == nil {
		return nil, errors.New("fleet: the GitHub client needs the fleet URL and the node token")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Gate == nil {
		o.Gate = ratelimit.New(ratelimit.Options{Logger: o.Logger})
	}
	base := strings.TrimSuffix(o.URL, "/")
	hc := *o.HTTPClient
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = &ratelimit.Transport{Next: next, Gate: o.Gate, Limit: fleetLimit,
		Key: func(*http.Request) string { return ratelimit.Key("fleet-github", base) }}
	return &GitHub{base: base, hc: &hc, token: o.Token, scaleSet: o.ScaleSet}, nil
}

// fleetLimit pauses the node's GitHub calls after a 429 until its
// Retry-After (DefaultPause without one).
func fleetLimit(resp *http.Response, now time.Time) (time.Time, string) {
	if resp.StatusCode != http.StatusTooManyRequests {
		return time.Time{}, ""
	}
	if t, ok := ratelimit.RetryAfter(resp.Header, now); ok {
		return t, "control plane 429 Retry-After"
	}
	return now.Add(ratelimit.DefaultPause), "control plane 429"
}

func (g *GitHub) post(ctx context.Context, op, path string, in, out any) error {
	tok, err := g.token.Wait(ctx)
	if err != nil {
		return fmt.Errorf("github via the fleet: %s: %w", op, err)
	}
	err = postJSON(ctx, g.hc, g.base, path, tok, in, out)
	var se *StatusError
	if !errors.As(err, &se) {
		if err != nil {
			return fmt.Errorf("github via the fleet: %s: %w", op, err)
		}
		return nil
	}
	kind := github.StatusKind(se.Code, path == fleetapi.PathGitHubDeleteRunner)
	if kind == nil {
		return fmt.Errorf("github via the fleet: %s: %w", op, err)
	}
	return fmt.Errorf("github via the fleet: %s: %w: %w", op, kind, err)
}

// MintJIT asks the control plane for a JIT runner config; the runner group
// is the node's pool's, whatever req says.
func (g *GitHub) MintJIT(ctx context.Context, req github.JITRequest) (github.JITConfig, error) {
	var out fleetapi.JITConfig
	if err := g.post(ctx, "mint a JIT runner", fleetapi.PathGitHubJIT, fleetapi.JITRequest{Name: req.Name, Labels: req.Labels, ScaleSet: g.scaleSet}, &out); err != nil {
		return github.JITConfig{}, err
	}
	if out.Encoded == "" {
		return github.JITConfig{}, errors.New("github via the fleet: mint a JIT runner: empty answer")
	}
	return github.JITConfig{RunnerID: out.RunnerID, Name: out.Name, Encoded: out.Encoded}, nil
}

// ListRunners lists the node's runners (the one named name, or all).
func (g *GitHub) ListRunners(ctx context.Context, name string) ([]github.RunnerStatus, error) {
	var out fleetapi.RunnerList
	if err := g.post(ctx, "list runners", fleetapi.PathGitHubRunners, fleetapi.RunnersRequest{Name: name, ScaleSet: g.scaleSet}, &out); err != nil {
		return nil, err
	}
	rs := make([]github.RunnerStatus, len(out.Runners))
	for i, r := range out.Runners {
		rs[i] = github.RunnerStatus(r)
	}
	return rs, nil
}

// DeleteRunner removes one of the node's registrations (gone already is
// fine; busy is github.ErrRunnerBusy).
func (g *GitHub) DeleteRunner(ctx context.Context, id int64) error {
	var out fleetapi.DeleteRunnerResponse
	return g.post(ctx, fmt.Sprintf("delete runner %d", id), fleetapi.PathGitHubDeleteRunner, fleetapi.DeleteRunnerRequest{ID: id, ScaleSet: g.scaleSet}, &out)
}

// RunnerJob finds the job of ref's run that the node's runner ran.
func (g *GitHub) RunnerJob(ctx context.Context, ref github.JobRef, runner string) (github.JobStatus, bool, error) {
	var out fleetapi.RunnerJobResponse
	if err := g.post(ctx, "look up a runner's job", fleetapi.PathGitHubRunnerJob, fleetapi.RunnerJobRequest{Ref: fleetapi.JobRef(ref), Runner: runner, ScaleSet: g.scaleSet}, &out); err != nil {
		return github.JobStatus{}, false, err
	}
	return github.JobStatus(out.Job), out.Found, nil
}
