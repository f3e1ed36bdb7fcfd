package sim

import (
	"slices"
	"time"

	"github.com/runfleet/runfleet/autoscaler/forecast"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// Forecaster is what a run feeds and asks: forecast.Forecaster, or a
// wrapper of it in tests.
type Forecaster interface {
	Observe(forecast.Event)
	Expected(now time.Time, horizons []time.Duration) []policy.ExpectedJobs
	Pending(now time.Time) bool
	Error() (wape float64, scored int)
}

// feeder hands a forecaster what a live control plane would see, when it
// would see it: run starts from the trace's run columns once the clock
// reaches them, and job events as the simulated jobs queue, start and
// finish. It never gives a job's queue time before that time has come.
type feeder struct {
	fc     Forecaster
	starts []forecast.Event // run starts, by time
	next   int
}

// newFeeder lists the run starts of jobs (a nil feeder feeds nothing).
func newFeeder(fc Forecaster, jobs []Job) *feeder {
	f := &feeder{fc: fc}
	seen := map[RunInfo]bool{}
	for _, j := range jobs {
		if j.Run.ID == "" {
			continue
		}
		key := j.Run
		key.Created = time.Time{}
		if seen[key] {
			continue
		}
		seen[key] = true
		f.starts = append(f.starts, forecast.Event{Kind: forecast.RunStarted, At: j.Run.Created, Repo: j.Run.Repo, Workflow: j.Run.Workflow, RunID: j.Run.ID})
	}
	slices.SortStableFunc(f.starts, func(a, b forecast.Event) int { return a.At.Compare(b.At) })
	return f
}

// runsUpTo feeds the run starts at or before t.
func (f *feeder) runsUpTo(t time.Time) {
	if f == nil {
		return
	}
	for ; f.next < len(f.starts) && !f.starts[f.next].At.After(t); f.next++ {
		f.fc.Observe(f.starts[f.next])
	}
}

// nextRun is the next run start not fed yet.
func (f *feeder) nextRun() (time.Time, bool) {
	if f == nil || f.next >= len(f.starts) {
		return time.Time{}, false
	}
	return f.starts[f.next].At, true
}

// event feeds one job event; a job of no run is fed only as it queues
// (an unannounced arrival), the forecaster has nothing else to learn.
func (f *feeder) event(kind forecast.EventKind, j *simJob, at time.Time) {
	if f == nil || j.Run.ID == "" && kind != forecast.JobQueued {
		return
	}
	f.fc.Observe(forecast.Event{Kind: kind, At: at, Repo: j.Run.Repo, Workflow: j.Run.Workflow, RunID: j.Run.ID, JobID: j.ID, Labels: j.Labels})
}

// queued feeds a job entering the queue at its queuedSince (a re-queue
// after an interruption included), after the run starts due by then.
func (f *feeder) queued(j *simJob) {
	if f == nil {
		return
	}
	f.runsUpTo(j.queuedSince)
	f.event(forecast.JobQueued, j, j.queuedSince)
}

func (f *feeder) started(j *simJob, at time.Time)  { f.event(forecast.JobStarted, j, at) }
func (f *feeder) finished(j *simJob, at time.Time) { f.event(forecast.JobFinished, j, at) }

// expected asks the forecast for horizons. The simulated fleet is one
// pool that takes every job whatever its labels, so the forecast's label
// sets are merged, as the queue's are.
func (f *feeder) expected(now time.Time, horizons []time.Duration) []policy.ExpectedJobs {
	if f == nil {
		return nil
	}
	by := map[time.Duration]policy.ExpectedJobs{}
	for _, e := range f.fc.Expected(now, horizons) {
		m := by[e.Within]
		m.Count += e.Count
		m.Unannounced += e.Unannounced
		by[e.Within] = m
	}
	var out []policy.ExpectedJobs
	for _, h := range horizons {
		if m := by[h]; m.Count > 0 || m.Unannounced > 0 {
			m.Within = h
			out = append(out, m)
		}
	}
	return out
}

func (f *feeder) pending(now time.Time) bool { return f != nil && f.fc.Pending(now) }

// waker is a forecaster that knows when it will next expect something
// (the Oracle): the run must not skip past that time.
type waker interface {
	Wake(now time.Time) (time.Time, bool)
}

// wake is the next time the forecaster asks to be woken at, if it says.
func (f *feeder) wake(now time.Time) (time.Time, bool) {
	if f == nil {
		return time.Time{}, false
	}
	if w, ok := f.fc.(waker); ok {
		return w.Wake(now)
	}
	return time.Time{}, false
}

// error is the forecast's WAPE, or nil without a forecast.
func (f *feeder) error() *float64 {
	if f == nil {
		return nil
	}
	w, _ := f.fc.Error()
	return &w
}
