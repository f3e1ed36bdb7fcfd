package gitlab

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// Resolution of the watched projects.
const (
	// resolveEvery is how long the projects of groups and of the instance
	// are reused before they are listed again.
	resolveEvery = 5 * time.Minute
	// instanceActivity: instance mode watches the projects active within.
	instanceActivity = 24 * time.Hour
)

// watched is the projects to read: the configured ones, then those of
// the groups and, in instance mode, every project the token sees that was
// active lately (listed again every resolveEvery). A project named both
// ways is read once.
func (s *Source) watched(ctx context.Context) ([]string, error) {
	if len(s.groups) == 0 && !s.instance {
		return s.projects, nil
	}
	s.resolveMu.Lock()
	defer s.resolveMu.Unlock()
	now := s.now()
	if s.resolved != nil && now.Sub(s.resolvedAt) < resolveEvery {
		return s.resolved, nil
	}
	out := slices.Clone(s.projects)
	add := func(ps []*gl.Project) {
		for _, p := range ps {
			id := strconv.FormatInt(p.ID, 10)
			if !slices.Contains(out, id) && !slices.Contains(out, p.PathWithNamespace) {
				out = append(out, id)
			}
		}
	}
	for _, g := range s.groups {
		opt := &gl.ListGroupProjectsOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1},
			IncludeSubGroups: gl.Ptr(true), Archived: gl.Ptr(false)}
		for range s.maxPages {
			ps, resp, err := s.c.Groups.ListGroupProjects(g, opt, gl.WithContext(ctx))
			if err != nil {
				return nil, fmt.Errorf("gitlab demand: projects of group %s: %w", g, err)
			}
			add(ps)
			if resp == nil || resp.NextPage == 0 {
				break
			}
			opt.Page = resp.NextPage
		}
	}
	if s.instance {
		opt := &gl.ListProjectsOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1},
			LastActivityAfter: gl.Ptr(now.Add(-instanceActivity)), Archived: gl.Ptr(false)}
		for range s.maxPages {
			ps, resp, err := s.c.Projects.ListProjects(opt, gl.WithContext(ctx))
			if err != nil {
				return nil, fmt.Errorf("gitlab demand: projects of the instance: %w", err)
			}
			add(ps)
			if resp == nil || resp.NextPage == 0 {
				break
			}
			opt.Page = resp.NextPage
		}
	}
	s.resolved, s.resolvedAt = out, now
	return out, nil
}
