package githubhook

import (
	"slices"

	"github.com/google/go-github/v92/github"

	"github.com/runfleet/runfleet/autoscaler/forecast"
)

// parseWorkflowRun decodes a workflow_run delivery, or nil when it lacks
// what the forecast keys runs by (the run id, the repository, an action).
func parseWorkflowRun(payload []byte) *github.WorkflowRunEvent {
	parsed, err := github.ParseWebHook("workflow_run", payload)
	ev, ok := parsed.(*github.WorkflowRunEvent)
	if err != nil || !ok || ev.WorkflowRun == nil || ev.WorkflowRun.ID == nil || ev.Action == nil || ev.GetRepo().GetFullName() == "" {
		return nil
	}
	return ev
}

// runAction is the delivery's action as a metric label: one GitHub sends
// for workflow_run, or "other".
func runAction(ev *github.WorkflowRunEvent) string {
	if a := ev.GetAction(); slices.Contains(workflowRunActions, a) {
		return a
	}
	return actionOther
}

// applyRun feeds the forecast the start of a workflow run: on
// "requested", or on the first delivery of the run seen (its requested
// delivery lost). A completed run feeds nothing more: its jobs' own
// deliveries say when they finished.
func (rc *Receiver) applyRun(ev *github.WorkflowRunEvent) {
	if rc.forecast == nil {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if ev.GetAction() == "completed" {
		return
	}
	if e, ok := rc.fed.runStarted(ev.GetRepo().GetFullName(), workflowName(ev.WorkflowRun, ev.Workflow), ev.WorkflowRun, rc.now()); ok {
		rc.forecast.Observe(e)
	}
}

// feedJobLocked feeds the forecast what a workflow_job delivery adds.
// The caller holds rc.mu.
func (rc *Receiver) feedJobLocked(ev *github.WorkflowJobEvent) {
	if rc.forecast == nil {
		return
	}
	for _, e := range rc.fed.jobEvents(ev.GetRepo().GetFullName(), ev.WorkflowJob, ev.GetAction(), rc.now()) {
		rc.forecast.Observe(e)
	}
}

// feedListedLocked feeds the forecast what a reconcile listed: the start
// of each run in progress and its jobs' progress, for the deliveries that
// were lost. The caller holds rc.mu.
func (rc *Receiver) feedListedLocked(runs []listedRun) {
	if rc.forecast == nil {
		return
	}
	now := rc.now()
	var evs []forecast.Event
	for _, r := range runs {
		if e, ok := rc.fed.runStarted(r.repo, r.run.GetName(), r.run, now); ok {
			evs = append(evs, e)
		}
		for _, j := range r.jobs {
			evs = append(evs, rc.fed.jobEvents(r.repo, j, j.GetStatus(), now)...)
		}
	}
	// In time order across runs (the listing is by run and job), so the
	// forecaster places each where it happened.
	slices.SortStableFunc(evs, func(a, b forecast.Event) int { return a.At.Compare(b.At) })
	for _, e := range evs {
		rc.forecast.Observe(e)
	}
}

// listedRun is a run the reconcile listed, with its jobs.
type listedRun struct {
	repo string
	run  *github.WorkflowRun
	jobs []*github.WorkflowJob
}
