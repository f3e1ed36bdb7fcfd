package gitlab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/forecast"
)

// Forecast is what the pipeline watcher feeds: controlplane.LiveForecast.
type Forecast interface {
	Observe(forecast.Event)
	// SetKnown replaces the created jobs the source knows of.
	SetKnown(source string, jobs []controlplane.KnownJobs)
	// MeanDuration is how long the workflow's jobs with labels ran so far.
	MeanDuration(repo, workflow string, labels []string) (time.Duration, bool)
}

// activeStatuses are the pipeline statuses listed each pass: pipelines
// that may still queue jobs, in the order a pipeline goes through them,
// so one that moves on between two listings is in the later one.
var activeStatuses = []gl.BuildStateValue{gl.Created, gl.Pending, gl.Running}

// waitingStatuses are statuses a pipeline passes through between the
// active ones without being listed: it is still in progress.
var waitingStatuses = []string{"waiting_for_resource", "preparing"}

// jobScopes are the job states of a pipeline listed each pass: created
// (waiting on earlier stages), pending (queued) and running.
var jobScopes = []gl.BuildStateValue{gl.Created, gl.Pending, gl.Running}

// refreshQueue bounds the pipelines hooks ask to list before the next
// pass (past it they wait for the pass).
const refreshQueue = 256

type pipelineKey struct{ project, id int64 }

// jobStage is how far a job's forecast events went.
type jobStage int

const (
	stageNone jobStage = iota
	stageQueued
	stageStarted
)

// trackedPipeline is a pipeline in progress: its forecast key, what was
// fed of its jobs, and its last listing of created, pending and running
// jobs (for the known demand).
type trackedPipeline struct {
	project             string // the id or path it was last listed under
	repo, workflow, run string
	fed                 map[int64]fedJob
	listed              []*gl.Job
}

type fedJob struct {
	stage  jobStage
	labels []string
}

// repoKey names a GitLab project in the forecast (apart from GitHub's
// "owner/name").
func repoKey(project int64) string { return "gitlab:" + strconv.FormatInt(project, 10) }

// workflowOf is the forecast's workflow of a pipeline: its name
// (workflow:name) or else its source (push, merge_request_event,
// schedule…), so pushes and merge requests are learned apart.
func workflowOf(name, source string) string {
	if name != "" {
		return name
	}
	return source
}

// WatchPipelines is one pass: it lists the active pipelines of the
// watched projects and their created, pending and running jobs, feeds the
// forecaster what changed and publishes the known demand. A project whose
// listing fails is left as it was; the others are applied.
func (s *Source) WatchPipelines(ctx context.Context) error {
	if s.fc == nil {
		return errors.New("gitlab demand: watching pipelines needs a Forecast")
	}
	projects, err := s.watched(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range projects {
		if err := s.watchProject(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	s.flush()
	s.publishKnown()
	return errors.Join(errs...)
}

// watchProject lists one project's active pipelines and their jobs, then
// finishes the tracked pipelines of the project that are no longer active.
func (s *Source) watchProject(ctx context.Context, pid string) error {
	var active []*gl.PipelineInfo
	for _, st := range activeStatuses {
		opt := &gl.ListProjectPipelinesOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1}, Status: gl.Ptr(st)}
		for range s.maxPages {
			ps, resp, err := s.c.Pipelines.ListProjectPipelines(pid, opt, gl.WithContext(ctx))
			if err != nil {
				return fmt.Errorf("gitlab demand: %s pipelines of project %s: %w", st, pid, err)
			}
			active = append(active, ps...)
			if resp == nil || resp.NextPage == 0 {
				break
			}
			opt.Page = resp.NextPage
		}
	}
	listed := map[pipelineKey]bool{}
	for _, pl := range active {
		if listed[pipelineKey{pl.ProjectID, pl.ID}] {
			continue // listed under two statuses: it moved on meanwhile
		}
		jobs, err := s.pipelineJobs(ctx, pl)
		if err != nil {
			return err
		}
		listed[pipelineKey{pl.ProjectID, pl.ID}] = true
		s.apply(pid, pl, jobs)
	}
	// The project's numeric id: given, or learned from a listing under
	// its path (a hook names projects by id).
	s.mu.Lock()
	id, err := strconv.ParseInt(pid, 10, 64)
	if err != nil {
		if len(active) > 0 {
			s.ids[pid] = active[0].ProjectID
		}
		id = s.ids[pid]
	}
	var missing []pipelineKey
	for k, tp := range s.pipelines {
		if !listed[k] && (tp.project == pid || (id != 0 && k.project == id)) {
			missing = append(missing, k)
		}
	}
	s.mu.Unlock()
	// A tracked pipeline no longer listed ended, or waits between two
	// listed statuses (for a resource group, a runner's preparation):
	// asked for by id, once, when it leaves the listing.
	gone := map[pipelineKey]bool{}
	for _, k := range missing {
		pl, _, err := s.c.Pipelines.GetPipeline(k.project, k.id, gl.WithContext(ctx))
		switch {
		case errors.Is(err, gl.ErrNotFound):
			gone[k] = true
		case err != nil:
			return fmt.Errorf("gitlab demand: pipeline %d of project %d: %w", k.id, k.project, err)
		case slices.Contains(waitingStatuses, pl.Status) || slices.Contains(activeStatuses, gl.BuildStateValue(pl.Status)):
			info := &gl.PipelineInfo{ID: pl.ID, IID: pl.IID, ProjectID: pl.ProjectID, Status: pl.Status, Source: string(pl.Source),
				Ref: pl.Ref, SHA: pl.SHA, Name: pl.Name, CreatedAt: pl.CreatedAt, UpdatedAt: pl.UpdatedAt}
			jobs, err := s.pipelineJobs(ctx, info)
			if err != nil {
				return err
			}
			s.apply(pid, info, jobs)
		default:
			gone[k] = true
		}
	}
	s.finishGone(func(k pipelineKey, _ *trackedPipeline) bool { return gone[k] })
	return nil
}

// pipelineJobs lists a pipeline's created, pending and running jobs.
func (s *Source) pipelineJobs(ctx context.Context, pl *gl.PipelineInfo) ([]*gl.Job, error) {
	opt := &gl.ListJobsOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1}, Scope: &jobScopes}
	var out []*gl.Job
	for range s.maxPages {
		jobs, resp, err := s.c.Jobs.ListPipelineJobs(pl.ProjectID, pl.ID, opt, gl.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("gitlab demand: jobs of pipeline %d of project %d: %w", pl.ProjectID, pl.ID, err)
		}
		out = append(out, jobs...)
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	return out, nil
}

// apply feeds what a listing of pipeline pl's active jobs says; pid is
// the project as it was listed.
func (s *Source) apply(pid string, pl *gl.PipelineInfo, jobs []*gl.Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	k := pipelineKey{pl.ProjectID, pl.ID}
	tp, evs := s.trackLocked(pl, now)
	tp.listed, tp.project = jobs, pid
	present := map[int64]bool{}
	for _, j := range jobs {
		present[j.ID] = true
		evs = append(evs, tp.jobEvents(j, now)...)
	}
	// Jobs fed before and no longer created, pending or running ended.
	for id, f := range tp.fed {
		if !present[id] {
			evs = append(evs, tp.finished(id, f, now)...)
		}
	}
	s.observe(evs)
	s.pipelines[k] = tp
}

// trackLocked returns the tracked pipeline of pl, tracking it (run
// started at its creation) when new.
func (s *Source) trackLocked(pl *gl.PipelineInfo, now time.Time) (*trackedPipeline, []forecast.Event) {
	k := pipelineKey{pl.ProjectID, pl.ID}
	if tp := s.pipelines[k]; tp != nil {
		return tp, nil
	}
	tp := &trackedPipeline{repo: repoKey(pl.ProjectID), workflow: workflowOf(pl.Name, pl.Source),
		run: strconv.FormatInt(pl.ID, 10), fed: map[int64]fedJob{}}
	s.pipelines[k] = tp
	at := now
	if pl.CreatedAt != nil {
		at = *pl.CreatedAt
	}
	return tp, []forecast.Event{{Kind: forecast.RunStarted, At: at, Repo: tp.repo, Workflow: tp.workflow, RunID: tp.run}}
}

// jobEvents are the events job j's status adds to what was fed: pending
// (or waiting for a resource, preparing) is queued, running is started;
// a job first seen running is fed queued too. created feeds nothing (it
// is known demand).
func (tp *trackedPipeline) jobEvents(j *gl.Job, now time.Time) []forecast.Event {
	var want jobStage
	switch j.Status {
	case "pending", "waiting_for_resource", "preparing":
		want = stageQueued
	case "running":
		want = stageStarted
	default:
		return nil
	}
	f := tp.fed[j.ID]
	if f.stage >= want {
		return nil
	}
	labels := sortedTags(j.TagList)
	base := forecast.Event{Repo: tp.repo, Workflow: tp.workflow, RunID: tp.run, JobID: strconv.FormatInt(j.ID, 10), Labels: labels}
	queued := now.Add(-seconds(j.QueuedDuration))
	if j.StartedAt != nil {
		queued = j.StartedAt.Add(-seconds(j.QueuedDuration))
	}
	var out []forecast.Event
	if f.stage < stageQueued {
		e := base
		e.Kind, e.At = forecast.JobQueued, queued
		out = append(out, e)
	}
	if want == stageStarted {
		e := base
		e.Kind, e.At = forecast.JobStarted, now
		if j.StartedAt != nil {
			e.At = *j.StartedAt
		}
		out = append(out, e)
	}
	tp.fed[j.ID] = fedJob{stage: want, labels: labels}
	return out
}

// finished ends a fed job that is no longer listed: it finished (or was
// cancelled) since the last listing.
func (tp *trackedPipeline) finished(id int64, f fedJob, now time.Time) []forecast.Event {
	delete(tp.fed, id)
	return []forecast.Event{{Kind: forecast.JobFinished, At: now, Repo: tp.repo, Workflow: tp.workflow, RunID: tp.run,
		JobID: strconv.FormatInt(id, 10), Labels: f.labels}}
}

// finishGone ends the tracked pipelines gone reports true for: they are
// no longer active, so their running jobs ended.
func (s *Source) finishGone(gone func(pipelineKey, *trackedPipeline) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var evs []forecast.Event
	for k, tp := range s.pipelines {
		if !gone(k, tp) {
			continue
		}
		for id, f := range tp.fed {
			evs = append(evs, tp.finished(id, f, now)...)
		}
		delete(s.pipelines, k)
	}
	s.observe(evs)
}

// observe adds events to the pass's batch. The caller holds s.mu.
func (s *Source) observe(evs []forecast.Event) {
	s.batch = append(s.batch, evs...)
}

// flush feeds the batch in time order: a pass lists project after
// project, so the events of all of them are sorted before the forecaster
// places them (it keeps a late event after those it has, not where it
// happened).
func (s *Source) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	slices.SortStableFunc(s.batch, func(a, b forecast.Event) int { return a.At.Compare(b.At) })
	for _, e := range s.batch {
		s.fc.Observe(e)
	}
	s.batch = s.batch[:0]
}

// RunPipelines watches pipelines now and every interval, and lists at
// once the pipelines hooks report, until ctx ends; failures are logged
// and the next pass tries again.
func (s *Source) RunPipelines(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("gitlab demand: pipeline interval %v", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.WatchPipelines(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("gitlab pipelines: pass failed", "err", err)
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				break wait
			case pl := <-s.refresh:
				if err := s.refreshPipeline(ctx, pl); err != nil && ctx.Err() == nil {
					s.log.Warn("gitlab pipelines: listing a hooked pipeline", "project", pl.ProjectID, "pipeline", pl.ID, "err", err)
				}
			}
		}
	}
}

// refreshPipeline lists one pipeline a hook reported and applies it (a
// pipeline no longer active is finished).
func (s *Source) refreshPipeline(ctx context.Context, pl *gl.PipelineInfo) error {
	if !slices.Contains(activeStatuses, gl.BuildStateValue(pl.Status)) {
		k := pipelineKey{pl.ProjectID, pl.ID}
		s.finishGone(func(kk pipelineKey, _ *trackedPipeline) bool { return kk == k })
		s.flush()
		s.publishKnown()
		return nil
	}
	jobs, err := s.pipelineJobs(ctx, pl)
	if err != nil {
		return err
	}
	s.apply(strconv.FormatInt(pl.ProjectID, 10), pl, jobs)
	s.flush()
	s.publishKnown()
	return nil
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func sortedTags(tags []string) []string {
	t := slices.Clone(tags)
	slices.Sort(t)
	return slices.Compact(t)
}
