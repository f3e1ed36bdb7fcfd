package github

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v92/github"
)

// DefaultRunnerGroupID is GitHub's "Default" runner group.
const DefaultRunnerGroupID = 1

// JITConfig is a minted just-in-time runner registration.
type JITConfig struct {
	RunnerID int64
	Name     string
	// Encoded is the runner's whole configuration, credentials included:
	// hand it to that runner only (ACTIONS_RUNNER_INPUT_JITCONFIG).
	Encoded string
}

// JITRequest asks for a JIT runner registration.
type JITRequest struct {
	Name          string
	RunnerGroupID int64
	Labels        []string
	WorkFolder    string // "" = the runner's default (_work)
}

// RunnerStatus is a registered runner as the REST API lists it.
type RunnerStatus struct {
	ID     int64
	Name   string
	Status string // online | offline
	Busy   bool
}

// MintJIT creates a JIT runner registration, within the minting budget.
func (c *Client) MintJIT(ctx context.Context, req JITRequest) (JITConfig, error) {
	if err := c.jit.Wait(ctx); err != nil {
		return JITConfig{}, fmt.Errorf("github: JIT minting budget: %w", err)
	}
	body := gh.CreateJITConfigRequest{Name: req.Name, RunnerGroupID: req.RunnerGroupID, Labels: req.Labels}
	if req.WorkFolder != "" {
		body.WorkFolder = &req.WorkFolder
	}
	var out *gh.JITRunnerConfig
	err := c.call(ctx, "generate JIT config", func(ctx context.Context) error {
		var err error
		switch t := c.target; t.Kind {
		case ScopeRepo:
			out, _, err = c.api.Actions.CreateRepoJITConfig(ctx, t.Org, t.Repo, body)
		case ScopeEnterprise:
			out, _, err = c.api.Enterprise.CreateJITConfig(ctx, t.Enterprise, body)
		default:
			out, _, err = c.api.Actions.CreateOrgJITConfig(ctx, t.Org, body)
		}
		return err
	})
	if err != nil {
		return JITConfig{}, err
	}
	if out == nil || out.Runner == nil || out.GetEncodedJITConfig() == "" {
		return JITConfig{}, errors.New("github: generate JIT config: empty answer")
	}
	return JITConfig{RunnerID: out.Runner.GetID(), Name: out.Runner.GetName(), Encoded: out.GetEncodedJITConfig()}, nil
}

// ListRunners lists every runner registered at the target (all pages),
// or only the one named name when name is not empty.
func (c *Client) ListRunners(ctx context.Context, name string) ([]RunnerStatus, error) {
	opts := &gh.ListRunnersOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	if name != "" {
		opts.Name = &name
	}
	var out []RunnerStatus
	for {
		var page *gh.Runners
		var resp *gh.Response
		err := c.call(ctx, "list runners", func(ctx context.Context) error {
			var err error
			switch t := c.target; t.Kind {
			case ScopeRepo:
				page, resp, err = c.api.Actions.ListRunners(ctx, t.Org, t.Repo, opts)
			case ScopeEnterprise:
				page, resp, err = c.api.Enterprise.ListRunners(ctx, t.Enterprise, opts)
			default:
				page, resp, err = c.api.Actions.ListOrganizationRunners(ctx, t.Org, opts)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, r := range page.Runners {
			out = append(out, runnerStatus(r))
		}
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// Runner is the registered runner with id (ErrNotFound when none).
func (c *Client) Runner(ctx context.Context, id int64) (RunnerStatus, error) {
	var r *gh.Runner
	err := c.call(ctx, fmt.Sprintf("get runner %d", id), func(ctx context.Context) error {
		var err error
		switch t := c.target; t.Kind {
		case ScopeRepo:
			r, _, err = c.api.Actions.GetRunner(ctx, t.Org, t.Repo, id)
		case ScopeEnterprise:
			r, _, err = c.api.Enterprise.GetRunner(ctx, t.Enterprise, id)
		default:
			r, _, err = c.api.Actions.GetOrganizationRunner(ctx, t.Org, id)
		}
		return err
	})
	if err != nil {
		return RunnerStatus{}, err
	}
	return runnerStatus(r), nil
}

// runnerStatus is go-github's runner in this package's words.
func runnerStatus(r *gh.Runner) RunnerStatus {
	return RunnerStatus{ID: r.GetID(), Name: r.GetName(), Status: r.GetStatus(), Busy: r.GetBusy()}
}

// DeleteRunner removes a runner registration. A runner already gone is
// fine; a busy runner is refused by GitHub and reported as ErrRunnerBusy.
func (c *Client) DeleteRunner(ctx context.Context, id int64) error {
	err := c.callAs(ctx, fmt.Sprintf("delete runner %d", id), true, func(ctx context.Context) error {
		var err error
		switch t := c.target; t.Kind {
		case ScopeRepo:
			_, err = c.api.Actions.RemoveRunner(ctx, t.Org, t.Repo, id)
		case ScopeEnterprise:
			_, err = c.api.Enterprise.RemoveRunner(ctx, t.Enterprise, id)
		default:
			_, err = c.api.Actions.RemoveOrganizationRunner(ctx, t.Org, id)
		}
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err // a busy runner's 422 is ErrRunnerBusy (StatusKind)
}

// RunnerGroupID resolves a runner group by name ("" and "Default" are
// group 1). Repositories have no runner groups: only Default works there.
func (c *Client) RunnerGroupID(ctx context.Context, name string) (int64, error) {
	if name == "" || strings.EqualFold(name, "default") {
		return DefaultRunnerGroupID, nil
	}
	t := c.target
	if t.Kind == ScopeRepo {
		return 0, fmt.Errorf("github: runner group %q: repositories have only the Default group: %w", name, ErrNotFound)
	}
	page := 1
	for {
		var ids []int64
		var names []string
		next := 0
		err := c.call(ctx, "list runner groups", func(ctx context.Context) error {
			ids, names = nil, nil
			if t.Kind == ScopeEnterprise {
				gs, resp, err := c.api.Enterprise.ListRunnerGroups(ctx, t.Enterprise, &gh.ListEnterpriseRunnerGroupOptions{ListOptions: gh.ListOptions{PerPage: 100, Page: page}})
				if err != nil {
					return err
				}
				for _, g := range gs.RunnerGroups {
					ids, names = append(ids, g.GetID()), append(names, g.GetName())
				}
				next = resp.NextPage
				return nil
			}
			gs, resp, err := c.api.Actions.ListOrganizationRunnerGroups(ctx, t.Org, &gh.ListOrgRunnerGroupOptions{ListOptions: gh.ListOptions{PerPage: 100, Page: page}})
			if err != nil {
				return err
			}
			for _, g := range gs.RunnerGroups {
				ids, names = append(ids, g.GetID()), append(names, g.GetName())
			}
			next = resp.NextPage
			return nil
		})
		if err != nil {
			return 0, err
		}
		for i, n := range names {
			if n == name {
				return ids[i], nil
			}
		}
		if next == 0 {
			return 0, fmt.Errorf("github: runner group %q: %w at %s", name, ErrNotFound, t)
		}
		page = next
	}
}

// Check verifies that the credentials can manage runners at the target.
func (c *Client) Check(ctx context.Context) error {
	opts := &gh.ListRunnersOptions{ListOptions: gh.ListOptions{PerPage: 1}}
	return c.call(ctx, "check credentials", func(ctx context.Context) error {
		var err error
		switch t := c.target; t.Kind {
		case ScopeRepo:
			_, _, err = c.api.Actions.ListRunners(ctx, t.Org, t.Repo, opts)
		case ScopeEnterprise:
			_, _, err = c.api.Enterprise.ListRunners(ctx, t.Enterprise, opts)
		default:
			_, _, err = c.api.Actions.ListOrganizationRunners(ctx, t.Org, opts)
		}
		return err
	})
}
