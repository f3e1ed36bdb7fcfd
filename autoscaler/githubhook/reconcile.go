package githubhook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v92/github"
)

// Actions is the part of go-github's ActionsService the reconcile uses
// (*github.ActionsService satisfies it).
type Actions interface {
	ListRepositoryWorkflowRuns(ctx context.Context, owner, repo string, opts *github.ListWorkflowRunsOptions) (*github.WorkflowRuns, *github.Response, error)
	ListWorkflowJobs(ctx context.Context, owner, repo string, runID int64, opts *github.ListWorkflowJobsOptions) (*github.Jobs, *github.Response, error)
}

var _ Actions = (*github.ActionsService)(nil)

// Repairs counts what one reconcile changed.
type Repairs struct {
	// Added are queued jobs whose "queued" delivery was lost.
	Added int
	// Removed are jobs counted as queued whose start or end delivery was
	// lost.
	Removed int
	// Failed lists repositories that could not be listed (left as they
	// were).
	Failed []string
}

// Reconcile lists the queued jobs of the configured repositories through
// the REST API and repairs the count the deliveries built: jobs GitHub
// reports queued that no delivery announced are added, jobs counted as
// queued that GitHub no longer reports queued are dropped. Deliveries
// that arrive while the listing runs win: a job queued by a delivery
// after the reconcile started is kept, and a job a delivery reported
// started or done is never added back. A repository whose listing fails
// is left as it was and named in the result and the error.
func (rc *Receiver) Reconcile(ctx context.Context) (Repairs, error) {
	if rc.actions == nil || len(rc.repos) == 0 {
		return Repairs{}, errors.New("githubhook: reconcile needs an Actions client and repositories")
	}
	start := rc.now()
	truth := map[int64]queuedJob{}
	var ok []string
	var rep Repairs
	var errs []error
	var listed []listedRun
	for _, full := range rc.repos {
		jobs, runs, err := rc.listQueued(ctx, full)
		if err != nil {
			rep.Failed = append(rep.Failed, full)
			errs = append(errs, fmt.Errorf("%s: %w", full, err))
			rc.reconcileErrors.Inc()
			continue
		}
		ok = append(ok, full)
		listed = append(listed, runs...)
		for id, j := range jobs {
			j.since = start
			truth[id] = j
		}
	}

	rc.mu.Lock()
	for id, j := range rc.queued {
		if _, still := truth[id]; still || !slices.Contains(ok, j.repo) || !j.since.Before(start) {
			continue
		}
		delete(rc.queued, id)
		rep.Removed++
	}
	for id, j := range truth {
		if _, known := rc.queued[id]; known {
			continue
		}
		if _, finished := rc.done[id]; finished {
			continue
		}
		rc.queued[id] = j
		rep.Added++
	}
	rc.feedListedLocked(listed)
	rc.mu.Unlock()

	rc.repairs.WithLabelValues("added").Add(float64(rep.Added))
	rc.repairs.WithLabelValues("removed").Add(float64(rep.Removed))
	if rep.Added+rep.Removed > 0 {
		rc.log.Info("github reconcile repaired the queue", "added", rep.Added, "removed", rep.Removed)
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("githubhook: reconcile: %w", err)
	}
	rc.lastReconcile.SetToCurrentTime()
	return rep, nil
}

// listQueued returns the queued jobs of one repository ("owner/name"),
// and its runs in progress with their jobs (for the forecast).
func (rc *Receiver) listQueued(ctx context.Context, full string) (map[int64]queuedJob, []listedRun, error) {
	owner, repo, _ := strings.Cut(full, "/")
	out := map[int64]queuedJob{}
	var listed []listedRun
	// A run stays queued until its first job starts, and an in-progress
	// run may still hold queued jobs (jobs waiting on needs:, matrix legs).
	for _, status := range []string{"queued", "in_progress"} {
		opts := &github.ListWorkflowRunsOptions{Status: status, ListOptions: github.ListOptions{PerPage: 100}}
		for {
			runs, resp, err := rc.actions.ListRepositoryWorkflowRuns(ctx, owner, repo, opts)
			if err != nil {
				return nil, nil, fmt.Errorf("list %s runs: %w", status, err)
			}
			for _, run := range runs.WorkflowRuns {
				jobs, err := rc.listRunJobs(ctx, owner, repo, full, run.GetID(), out)
				if err != nil {
					return nil, nil, err
				}
				listed = append(listed, listedRun{repo: full, run: run, jobs: jobs})
			}
			if resp == nil || resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
	}
	return out, listed, nil
}

func (rc *Receiver) listRunJobs(ctx context.Context, owner, repo, full string, runID int64, out map[int64]queuedJob) ([]*github.WorkflowJob, error) {
	var all []*github.WorkflowJob
	opts := &github.ListWorkflowJobsOptions{Filter: "latest", ListOptions: github.ListOptions{PerPage: 100}}
	for {
		jobs, resp, err := rc.actions.ListWorkflowJobs(ctx, owner, repo, runID, opts)
		if err != nil {
			return nil, fmt.Errorf("list jobs of run %d: %w", runID, err)
		}
		all = append(all, jobs.Jobs...)
		for _, j := range jobs.Jobs {
			if j.GetStatus() == "queued" && j.ID != nil {
				out[j.GetID()] = queuedJob{labels: normalizeLabels(j.Labels), repo: full}
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

// RunReconcile reconciles now and then every interval until ctx ends;
// failures are logged and counted, and the next tick tries again.
func (rc *Receiver) RunReconcile(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("githubhook: reconcile interval %v", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := rc.Reconcile(ctx); err != nil && ctx.Err() == nil {
			rc.log.Warn("github reconcile failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
