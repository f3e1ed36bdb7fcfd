// Package gitlab is a demand source for the control plane: it counts
// GitLab CI jobs waiting for a runner (the jobs API with scope=pending) in
// the configured projects, grouped by their tag sets, through the GitLab
// REST API client (gitlab.com/gitlab-org/api/client-go).
package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

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
}

// Source counts pending jobs.
type Source struct {
	c        *gl.Client
	projects []string
	maxPages int
}

// New returns a Source.
func New(o Options) (*Source, error) {
	if o.BaseURL == "" || o.Token == "" || len(o.Projects) == 0 {
		return nil, errors.New("gitlab demand: base URL, token and at least one project are required")
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
	return &Source{c: c, projects: o.Projects, maxPages: o.MaxPages}, nil
}

// Queued returns the pending jobs of every project, by tag set (tags
// sorted; untagged jobs have no labels).
func (s *Source) Queued(ctx context.Context) ([]policy.QueuedJobs, error) {
	var out []policy.QueuedJobs
	for _, p := range s.projects {
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
