// Package gitlab is a demand source for the control plane: it counts
// GitLab CI jobs waiting for a runner (the jobs API with scope=pending) in
// the configured projects, grouped by their tag sets, through the GitLab
// REST API client (gitlab.com/gitlab-org/api/client-go).
//
// With a Forecast it also watches pipelines (pipelines.go): those of the
// projects, of every project of the configured groups, or of every
// project of the instance the token sees. A pipeline creates all its jobs
// at once, later stages waiting in created, so each pass turns what it
// lists into the forecaster's events (pipeline created: run started; a
// job pending, running, gone: queued, started, finished) and counts the
// created jobs per stage and tag set as known demand with the time each
// stage should queue (stages.go). Pipeline Hook webhooks (hook.go) start a
// run at once and ask for its jobs before the next pass.
package gitlab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/runfleet/runfleet/autoscaler/forecast"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// Options configure a Source.
type Options struct {
	// BaseURL of the GitLab instance, e.g. https://gitlab.example.com.
	BaseURL string
	// Token is a personal, group or project access token with read_api.
	Token string
	// Projects are numeric ids or full paths ("group/project").
	Projects []string
	// HTTPClient is optional.
	HTTPClient *http.Client
	// MaxPages bounds the pages read per project per pass (100 jobs each);
	// 0 means 10.
	MaxPages int
	// Groups are numeric ids or full paths of groups whose projects
	// (subgroups included) are watched too; Instance watches every project
	// the token sees that was active in the last day (every project of the
	// instance for an administrator's token).
	Groups   []string
	Instance bool
	// Forecast, when set, is fed the pipelines of the watched projects
	// (WatchPipelines, RunPipelines).
	Forecast Forecast
	// Now is the clock (nil: time.Now); Logger is optional.
	Now    func() time.Time
	Logger *slog.Logger
}

// Source counts pending jobs and watches pipelines.
type Source struct {
	c        *gl.Client
	projects []string
	groups   []string
	instance bool
	maxPages int
	now      func() time.Time
	log      *slog.Logger
	fc       Forecast
	name     string // the source's name for Forecast.SetKnown

	resolveMu  sync.Mutex
	resolved   []string // projects plus those of groups/instance
	resolvedAt time.Time

	mu        sync.Mutex
	pipelines map[pipelineKey]*trackedPipeline
	ids       map[string]int64      // project path → id, learned from listings
	batch     []forecast.Event      // a pass's events, fed sorted by flush
	refresh   chan *gl.PipelineInfo // pipelines a hook asked to list now
}

// New returns a Source.
func New(o Options) (*Source, error) {
	if o.BaseURL == "" || o.Token == "" || (len(o.Projects) == 0 && len(o.Groups) == 0 && !o.Instance) {
		return nil, errors.New("gitlab demand: base URL, token and projects, groups or instance are required")
	}
	opts := []gl.ClientOptionFunc{
		gl.WithBaseURL(o.BaseURL),
		gl.WithCustomRetryMax(2),
		gl.WithCustomRetryWaitMinMax(200*time.Millisecond, 2*time.Second),
	}
	if o.HTTPClient != nil {
		opts = append(opts, gl.WithHTTPClient(o.HTTPClient))
	}
	c, err := gl.NewClient(o.Token, opts...)
	if err != nil {
		return nil, fmt.Errorf("gitlab demand: %w", err)
	}
	if o.MaxPages <= 0 {
		o.MaxPages = 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Source{c: c, projects: o.Projects, groups: o.Groups, instance: o.Instance, maxPages: o.MaxPages,
		now: o.Now, log: o.Logger, fc: o.Forecast, name: "gitlab " + o.BaseURL,
		pipelines: map[pipelineKey]*trackedPipeline{}, ids: map[string]int64{}, refresh: make(chan *gl.PipelineInfo, refreshQueue)}, nil
}

// Queued returns the pending jobs of every project, by tag set (tags
// sorted; untagged jobs have no labels).
func (s *Source) Queued(ctx context.Context) ([]policy.QueuedJobs, error) {
	var out []policy.QueuedJobs
	projects, err := s.watched(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range projects {
		if err := s.project(ctx, p, &out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Source) project(ctx context.Context, pid string, out *[]policy.QueuedJobs) error {
	opt := &gl.ListJobsOptions{
		ListOptions: gl.ListOptions{PerPage: 100, Page: 1},
		Scope:       &[]gl.BuildStateValue{gl.Pending},
	}
	for range s.maxPages {
		jobs, resp, err := s.c.Jobs.ListProjectJobs(pid, opt, gl.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("gitlab demand: pending jobs of project %s: %w", pid, err)
		}
		for _, j := range jobs {
			if j.Status != string(gl.Pending) {
				continue
			}
			add(out, j.TagList)
		}
		if resp == nil || resp.NextPage == 0 {
			return nil
		}
		opt.Page = resp.NextPage
	}
	return nil
}

func add(out *[]policy.QueuedJobs, tags []string) {
	tags = slices.Clone(tags)
	slices.Sort(tags)
	tags = slices.Compact(tags)
	for i := range *out {
		if slices.Equal((*out)[i].Labels, tags) {
			(*out)[i].Count++
			return
		}
	}
	*out = append(*out, policy.QueuedJobs{Labels: tags, Count: 1})
}
