package githubhook

import (
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v92/github"

	"github.com/runfleet/runfleet/autoscaler/forecast"
)

// Forecast is what the receiver feeds the forecaster
// (controlplane.LiveForecast): run started, job queued, started and
// finished, keyed by repository, workflow name, run and label set.
type Forecast interface {
	Observe(forecast.Event)
}

// workflowRunActions are the actions GitHub sends for workflow_run.
var workflowRunActions = []string{"requested", "in_progress", "completed"}

// runKey is the forecast's run id of a workflow run attempt: a re-run
// queues new jobs of its own, with offsets from its own start.
func runKey(id, attempt int64) string {
	return strconv.FormatInt(id, 10) + "/" + strconv.FormatInt(max(attempt, 1), 10)
}

// jobStage is how far a job's forecast events went.
type jobStage int

const (
	stageNone jobStage = iota
	stageQueued
	stageStarted
	stageFinished
)

// feedState remembers which forecast events were passed on, so a
// delivery, GitHub's retry of it and the reconcile's listing of the same
// run or job feed the forecaster once, in order: a job first seen
// in_progress (its queued delivery lost) is fed queued then started.
// Guarded by the Receiver's mutex.
type feedState struct {
	runs map[string]time.Time // repo + run key → when fed
	jobs map[int64]fedJob     // workflow job id
}

type fedJob struct {
	stage jobStage
	at    time.Time // when fed, for forgetting
}

func newFeedState() feedState {
	return feedState{runs: map[string]time.Time{}, jobs: map[int64]fedJob{}}
}

// forget drops what was fed before cutoff (runs and jobs last a day).
func (s *feedState) forget(cutoff time.Time) {
	for k, at := range s.runs {
		if at.Before(cutoff) {
			delete(s.runs, k)
		}
	}
	for k, j := range s.jobs {
		if j.at.Before(cutoff) {
			delete(s.jobs, k)
		}
	}
}

// workflowName is the workflow's name in a workflow_run payload (the
// run's name is empty in some deliveries; the workflow object has it).
func workflowName(run *github.WorkflowRun, wf *github.Workflow) string {
	if n := run.GetName(); n != "" {
		return n
	}
	return wf.GetName()
}

// runStarted is the forecast event of a workflow run, or false when its
// start was already fed. now is the receive time, used when the payload
// has no start time.
func (s *feedState) runStarted(repo, workflow string, run *github.WorkflowRun, now time.Time) (forecast.Event, bool) {
	key := runKey(run.GetID(), int64(run.GetRunAttempt()))
	full := strings.ToLower(repo) + "\x00" + key
	if _, fed := s.runs[full]; fed || run.ID == nil {
		return forecast.Event{}, false
	}
	s.runs[full] = now
	at := run.GetRunStartedAt().Time
	if at.IsZero() {
		at = run.GetCreatedAt().Time
	}
	return forecast.Event{Kind: forecast.RunStarted, At: orNow(at, now), Repo: strings.ToLower(repo), Workflow: workflow, RunID: key}, true
}

// jobEvents are the forecast events a job in status (queued,
// in_progress, completed; waiting feeds nothing) adds to what was fed.
func (s *feedState) jobEvents(repo string, j *github.WorkflowJob, status string, now time.Time) []forecast.Event {
	var want jobStage
	switch status {
	case "queued":
		want = stageQueued
	case "in_progress":
		want = stageStarted
	case "completed":
		want = stageFinished
	default:
		return nil
	}
	fed := s.jobs[j.GetID()]
	if fed.stage >= want || j.ID == nil {
		return nil
	}
	base := forecast.Event{
		Repo: strings.ToLower(repo), Workflow: j.GetWorkflowName(), RunID: runKey(j.GetRunID(), j.GetRunAttempt()),
		JobID: strconv.FormatInt(j.GetID(), 10), Labels: normalizeLabels(j.Labels),
	}
	var out []forecast.Event
	for st := fed.stage + 1; st <= want; st++ {
		e := base
		switch st {
		case stageQueued:
			e.Kind, e.At = forecast.JobQueued, orNow(j.GetCreatedAt().Time, now)
		case stageStarted:
			if status == "completed" && j.StartedAt == nil {
				continue // cancelled before a runner took it
			}
			e.Kind, e.At = forecast.JobStarted, orNow(j.GetStartedAt().Time, now)
		case stageFinished:
			e.Kind, e.At = forecast.JobFinished, orNow(j.GetCompletedAt().Time, now)
		}
		out = append(out, e)
	}
	s.jobs[j.GetID()] = fedJob{stage: want, at: now}
	return out
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}
