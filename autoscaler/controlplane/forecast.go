package controlplane

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/runfleet/runfleet/autoscaler/forecast"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// LiveForecast is the forecaster of a running control plane: the demand
// sources (webhook handlers, API pollers, each on its own goroutine) feed
// it the platforms' events and the reconcile loop asks it for the
// expected demand once per pass (Options.Forecaster), so the live loop
// plans with the same forecast.Forecaster the simulator replays traces
// through. One lock serializes them.
//
// Events carry the platform's own times (a job's created_at, started_at),
// which arrive late (a delivery retried, a job recovered by a reconcile)
// or from a clock slightly ahead of ours. The forecaster wants them in
// time order and never after the time it is asked about, so an event is
// put at max(its time, the last event's) and at most now: a late event
// keeps its place after the ones already seen instead of rewriting
// history.
//
// Pipelines whose later stages are already created (GitLab) add
// KnownJobs: jobs that exist but wait on earlier stages. Expected counts,
// per label set and horizon, the larger of the forecast and those known
// jobs: the known jobs are part of what the forecast predicts for their
// run once it has learned the workflow, so they are never added twice.
type LiveForecast struct {
	mu     sync.Mutex
	f      *forecast.Forecaster
	now    func() time.Time
	last   time.Time
	queued map[liveJobKey]liveJob // jobs queued and not started yet
	starts JobStartObserver
	known  map[string][]KnownJobs // by source
}

// liveJobKey names a job across platforms.
type liveJobKey struct{ repo, workflow, run, job string }

type liveJob struct {
	labels []string
	at     time.Time
}

// maxLiveQueued bounds the memory of queued jobs waiting for their start.
const maxLiveQueued = 100_000

// JobStartObserver learns the queue wait of each job that starts
// (the control plane: ObserveJobStarted in the pool PoolFor the labels).
type JobStartObserver interface {
	PoolFor(labels []string) string
	ObserveJobStarted(pool string, queued, started time.Time)
}

// KnownJobs are Count jobs with Labels that a platform has created and
// that wait on earlier stages of their run: they are expected to queue
// at QueueBy, or, when QueueBy is zero (how long the earlier stages take
// is not known yet), within the longest horizon asked.
type KnownJobs struct {
	Labels  []string
	Count   int
	QueueBy time.Time
}

// NewLiveForecast returns a forecaster fed live; now is the control
// plane's clock (nil: time.Now).
func NewLiveForecast(cfg forecast.Config, now func() time.Time) *LiveForecast {
	if now == nil {
		now = time.Now
	}
	return &LiveForecast{f: forecast.New(cfg), now: now, queued: map[liveJobKey]liveJob{}, known: map[string][]KnownJobs{}}
}

// ReportStarts makes every job start that an event reports (with its
// queue time known) a queue-wait observation of o.
func (l *LiveForecast) ReportStarts(o JobStartObserver) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.starts = o
}

// Observe feeds one event, placed in time order (see LiveForecast).
func (l *LiveForecast) Observe(e forecast.Event) {
	e.Labels = slices.Clone(e.Labels)
	l.mu.Lock()
	now := l.now()
	if e.At.IsZero() || e.At.After(now) {
		e.At = now
	}
	if e.At.Before(l.last) {
		e.At = l.last
	}
	l.last = e.At
	l.f.Observe(e)
	var started *liveJob
	k := liveJobKey{e.Repo, e.Workflow, e.RunID, e.JobID}
	switch e.Kind {
	case forecast.JobQueued:
		if _, dup := l.queued[k]; !dup && len(l.queued) < maxLiveQueued {
			l.queued[k] = liveJob{labels: e.Labels, at: e.At}
		}
	case forecast.JobStarted, forecast.JobFinished:
		if q, ok := l.queued[k]; ok {
			delete(l.queued, k)
			if e.Kind == forecast.JobStarted {
				started = &q
			}
		}
	}
	obs := l.starts
	l.mu.Unlock()
	if started != nil && obs != nil {
		obs.ObserveJobStarted(obs.PoolFor(started.labels), started.at, e.At)
	}
}

// SetKnown replaces what source (a pipeline watcher) knows is created and
// waiting on earlier stages.
func (l *LiveForecast) SetKnown(source string, jobs []KnownJobs) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(jobs) == 0 {
		delete(l.known, source)
		return
	}
	l.known[source] = slices.Clone(jobs)
}

// MeanDuration is the mean run time the forecaster learned for the jobs
// with labels of a workflow.
func (l *LiveForecast) MeanDuration(repo, workflow string, labels []string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.MeanDuration(repo, workflow, labels)
}

// Expected is the forecast for now and horizons, raised to the known
// jobs that will queue within each horizon.
func (l *LiveForecast) Expected(now time.Time, horizons []time.Duration) []policy.ExpectedJobs {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.last) {
		now = l.last
	}
	out := l.f.Expected(now, horizons)
	if len(horizons) == 0 {
		return out
	}
	longest := slices.Max(horizons)
	type cell struct {
		labels string
		within time.Duration
	}
	sums := map[cell]float64{}
	for _, jobs := range l.known {
		for _, k := range jobs {
			at := k.QueueBy
			if at.Before(now) {
				at = now
			}
			key := forecast.LabelKey(k.Labels)
			for _, h := range horizons {
				if (k.QueueBy.IsZero() && h != longest) || at.After(now.Add(h)) {
					continue
				}
				sums[cell{key, h}] += float64(k.Count)
			}
		}
	}
	for i := range out {
		c := cell{forecast.LabelKey(out[i].Labels), out[i].Within}
		if n, ok := sums[c]; ok {
			out[i].Count = max(out[i].Count, n)
			delete(sums, c)
		}
	}
	for c, n := range sums {
		var labels []string // the forecaster's form: LabelKey's order
		if c.labels != "" {
			labels = strings.Split(c.labels, ",")
		}
		out = append(out, policy.ExpectedJobs{Labels: labels, Within: c.within, Count: n})
	}
	// The forecaster's order: by label set, then horizon.
	slices.SortStableFunc(out, func(a, b policy.ExpectedJobs) int {
		if c := strings.Compare(forecast.LabelKey(a.Labels), forecast.LabelKey(b.Labels)); c != 0 {
			return c
		}
		return cmp.Compare(a.Within, b.Within)
	})
	return out
}

// Error is the forecast's error so far (see forecast.Forecaster.Error).
func (l *LiveForecast) Error() (float64, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Error()
}
