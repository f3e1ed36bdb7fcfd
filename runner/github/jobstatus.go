package github

import (
	"context"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v92/github"
)

// JobRef names the workflow run attempt a runner's job belongs to, as the
// job hooks record it (GITHUB_REPOSITORY, GITHUB_RUN_ID,
// GITHUB_RUN_ATTEMPT).
type JobRef struct {
	Repo       string // owner/repo
	RunID      int64
	RunAttempt int64 // 0 = the latest attempt
}

// Valid reports whether the reference names a run.
func (r JobRef) Valid() bool {
	owner, repo, ok := strings.Cut(r.Repo, "/")
	return ok && owner != "" && repo != "" && !strings.Contains(repo, "/") && r.RunID > 0
}

// JobStatus is a workflow job as the REST API reports it.
type JobStatus struct {
	ID         int64
	Name       string
	Status     string // queued | in_progress | completed | waiting …
	Conclusion string // success | failure | cancelled | timed_out | … once completed
	RunnerName string
}

// RunnerJob finds the job of ref's run attempt that runner ran (GitHub
// has no lookup by runner: the hooks tell the run, the run's jobs tell
// the runner). found is false when no job of the run names the runner.
func (c *Client) RunnerJob(ctx context.Context, ref JobRef, runner string) (JobStatus, bool, error) {
	if !ref.Valid() {
		return JobStatus{}, false, fmt.Errorf("github: job reference %+v: want owner/repo and a run id", ref)
	}
	owner, repo, _ := strings.Cut(ref.Repo, "/")
	page := 1
	for {
		var jobs *gh.Jobs
		var resp *gh.Response
		err := c.call(ctx, "list workflow run jobs", func(ctx context.Context) error {
			var err error
			if ref.RunAttempt > 0 {
				jobs, resp, err = c.api.Actions.ListWorkflowJobsAttempt(ctx, owner, repo, ref.RunID, ref.RunAttempt, &gh.ListOptions{PerPage: 100, Page: page})
			} else {
				jobs, resp, err = c.api.Actions.ListWorkflowJobs(ctx, owner, repo, ref.RunID, &gh.ListWorkflowJobsOptions{Filter: "latest", ListOptions: gh.ListOptions{PerPage: 100, Page: page}})
			}
			return err
		})
		if err != nil {
			return JobStatus{}, false, err
		}
		for _, j := range jobs.Jobs {
			if j.GetRunnerName() == runner {
				return JobStatus{ID: j.GetID(), Name: j.GetName(), Status: j.GetStatus(), Conclusion: j.GetConclusion(), RunnerName: runner}, true, nil
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return JobStatus{}, false, nil
		}
		page = resp.NextPage
	}
}
