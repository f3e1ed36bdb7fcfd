package forecast

import (
	"slices"
	"strings"
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

// EventKind names what happened.
type EventKind int

// Event kinds.
const (
	// RunStarted: a workflow run (GitHub) or pipeline (GitLab) was created.
	RunStarted EventKind = iota + 1
	// JobQueued: a job of a run became ready for a runner. A job queued
	// again (after an interruption) is not a new arrival.
	JobQueued
	// JobStarted: a runner took the job.
	JobStarted
	// JobFinished: the job ended, in any state.
	JobFinished
)

func (k EventKind) String() string {
	switch k {
	case RunStarted:
		return "run-started"
	case JobQueued:
		return "job-queued"
	case JobStarted:
		return "job-started"
	case JobFinished:
		return "job-finished"
	}
	return "unknown"
}

// Event is one observation. Repo, Workflow and RunID name the run; JobID
// and Labels the job (job events only).
type Event struct {
	Kind     EventKind
	At       time.Time
	Repo     string
	Workflow string
	RunID    string
	JobID    string
	Labels   []string
}

// Config tunes the forecaster; zero values take the defaults.
type Config struct {
	// Runs is how many past runs of a workflow predict the next (default 10).
	Runs int
	// Overdue is how long a predicted arrival that has not come is still
	// expected (default 60 s).
	Overdue time.Duration
	// MaxRunAge: runs older than this predict nothing more (default 24 h).
	MaxRunAge time.Duration
}

func (c Config) withDefaults() Config {
	if c.Runs <= 0 {
		c.Runs = 10
	}
	if c.Overdue <= 0 {
		c.Overdue = time.Minute
	}
	if c.MaxRunAge <= 0 {
		c.MaxRunAge = 24 * time.Hour
	}
	return c
}

type flowKey struct{ repo, workflow string }

type runKey struct{ repo, workflow, id string }

// arrival is one job of a run: when it queued after the run's start.
type arrival struct {
	off    time.Duration
	labels string // canonical label set
}

type run struct {
	flow    flowKey
	start   time.Time
	jobs    []arrival // in queue order
	seen    map[string]bool
	running map[string]time.Time // job → started at
	quiet   bool                 // predicts nothing until its next event
}

type flow struct {
	runs []*run // by start, the latest last; at most Config.Runs+active
}

// durationStat is a running mean of job durations.
type durationStat struct {
	n   int
	sum time.Duration
}

// Forecaster learns run shapes and predicts demand. It is not safe for
// concurrent use; callers serialize (the control loop holds one lock).
type Forecaster struct {
	cfg       Config
	flows     map[flowKey]*flow
	runs      map[runKey]*run
	durations map[string]*durationStat // flow + labels → mean duration
	last      time.Time
	errs      errorTracker
}

// New returns an empty forecaster.
func New(cfg Config) *Forecaster {
	return &Forecaster{cfg: cfg.withDefaults(), flows: map[flowKey]*flow{}, runs: map[runKey]*run{}, durations: map[string]*durationStat{}}
}

// LabelKey is the canonical form of a label set: sorted, comma-joined.
func LabelKey(labels []string) string {
	l := slices.Clone(labels)
	slices.Sort(l)
	return strings.Join(slices.Compact(l), ",")
}

// Observe feeds one event. Events must come in time order; an event
// without a run id is ignored (it belongs to no workflow the forecaster
// can learn).
func (f *Forecaster) Observe(e Event) {
	if e.RunID == "" {
		return
	}
	if e.At.After(f.last) {
		f.last = e.At
	}
	fk := flowKey{e.Repo, e.Workflow}
	rk := runKey{e.Repo, e.Workflow, e.RunID}
	r := f.runs[rk]
	if r == nil {
		if e.Kind == JobStarted || e.Kind == JobFinished {
			return // a run from before we started watching
		}
		// A job of a run we did not see start: its start is now.
		r = &run{flow: fk, start: e.At, seen: map[string]bool{}, running: map[string]time.Time{}}
		f.runs[rk] = r
		fl := f.flows[fk]
		if fl == nil {
			fl = &flow{}
			f.flows[fk] = fl
		}
		fl.runs = append(fl.runs, r)
		f.trim(fl)
	}
	r.quiet = false
	switch e.Kind {
	case JobQueued:
		if r.seen[e.JobID] {
			return
		}
		r.seen[e.JobID] = true
		r.jobs = append(r.jobs, arrival{off: max(e.At.Sub(r.start), 0), labels: LabelKey(e.Labels)})
		f.errs.arrived(e.At)
	case JobStarted:
		r.running[e.JobID] = e.At
	case JobFinished:
		if st, ok := r.running[e.JobID]; ok {
			delete(r.running, e.JobID)
			k := e.Repo + "\x00" + e.Workflow + "\x00" + LabelKey(e.Labels)
			d := f.durations[k]
			if d == nil {
				d = &durationStat{}
				f.durations[k] = d
			}
			d.n++
			d.sum += e.At.Sub(st)
		}
	}
}

// trim forgets runs beyond the history kept, oldest first.
func (f *Forecaster) trim(fl *flow) {
	for len(fl.runs) > f.cfg.Runs+1 {
		old := fl.runs[0]
		fl.runs = fl.runs[1:]
		for k, r := range f.runs {
			if r == old {
				delete(f.runs, k)
			}
		}
	}
}

// MeanDuration is the mean run time of the workflow's jobs with labels,
// and whether any was seen.
func (f *Forecaster) MeanDuration(repo, workflow string, labels []string) (time.Duration, bool) {
	d := f.durations[repo+"\x00"+workflow+"\x00"+LabelKey(labels)]
	if d == nil || d.n == 0 {
		return 0, false
	}
	return d.sum / time.Duration(d.n), true
}

// Expected returns, per label set and horizon, the jobs expected to queue
// in (now, now+h] from the runs in progress. now must not be before the
// last event observed. It also records the prediction for the longest
// horizon so Error can score it once the clock passes it.
func (f *Forecaster) Expected(now time.Time, horizons []time.Duration) []policy.ExpectedJobs {
	if len(horizons) == 0 {
		return nil
	}
	hs := slices.Clone(horizons)
	slices.Sort(hs)
	longest := hs[len(hs)-1]
	f.errs.settle(now)
	counts := map[string][]float64{} // labels → per horizon
	total := 0.0
	for _, r := range f.active(now) {
		got := f.predict(r, now, hs, longest)
		for labels, c := range got {
			acc := counts[labels]
			if acc == nil {
				acc = make([]float64, len(hs))
				counts[labels] = acc
			}
			for i := range hs {
				acc[i] += c[i]
			}
			total += c[len(hs)-1]
		}
	}
	f.errs.predicted(now, longest, total)
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []policy.ExpectedJobs
	for _, k := range keys {
		var labels []string
		if k != "" {
			labels = strings.Split(k, ",")
		}
		for i, h := range hs {
			if c := counts[k][i]; c > 0 {
				out = append(out, policy.ExpectedJobs{Labels: labels, Within: h, Count: c})
			}
		}
	}
	return out
}

// Pending reports whether some run in progress may still predict demand
// (the simulator must not skip time while it does).
func (f *Forecaster) Pending(now time.Time) bool {
	for _, r := range f.runs {
		if !r.quiet && now.Sub(r.start) < f.cfg.MaxRunAge {
			return true
		}
	}
	return false
}

// active lists the runs in progress, oldest first.
func (f *Forecaster) active(now time.Time) []*run {
	var out []*run
	for _, r := range f.runs {
		if !r.quiet && now.Sub(r.start) < f.cfg.MaxRunAge {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *run) int { return a.start.Compare(b.start) })
	return out
}

// predict averages what the workflow's past runs say about r's next jobs.
// A past run counts only when it has been observed far enough to cover
// the window; when none has, r predicts nothing yet.
func (f *Forecaster) predict(r *run, now time.Time, hs []time.Duration, longest time.Duration) map[string][]float64 {
	n := len(r.jobs)
	anchor := r.start
	if n > 0 {
		anchor = r.start.Add(r.jobs[n-1].off)
	}
	fl := f.flows[r.flow]
	out := map[string][]float64{}
	used, older, future := 0, 0, false
	for i := len(fl.runs) - 1; i >= 0 && used < f.cfg.Runs; i-- {
		p := fl.runs[i]
		if p == r || !p.start.Before(r.start) {
			continue
		}
		older++
		tau := time.Duration(0)
		if n > 0 {
			if len(p.jobs) < n {
				// r has already produced more than p did: p predicts none.
				if now.Sub(p.start) >= r.jobs[n-1].off+longest {
					used++
				}
				continue
			}
			tau = p.jobs[n-1].off
		}
		// p must have been watched over the whole window it speaks for.
		if now.Sub(p.start) < tau+now.Add(longest).Sub(anchor) {
			continue
		}
		used++
		for _, a := range p.jobs[n:] {
			at := anchor.Add(a.off - tau)
			if !at.After(now.Add(-f.cfg.Overdue)) {
				continue // it did not come: heal
			}
			if at.After(now.Add(longest)) {
				future = true
				continue
			}
			c := out[a.labels]
			if c == nil {
				c = make([]float64, len(hs))
				out[a.labels] = c
			}
			for k, h := range hs {
				if !at.After(now.Add(h)) {
					c[k]++
				}
			}
		}
	}
	if used == 0 {
		// Past runs not watched long enough yet stay worth waiting for;
		// with none at all, r predicts nothing until its next event.
		r.quiet = older == 0
		return nil
	}
	for _, c := range out {
		for k := range c {
			c[k] /= float64(used)
		}
	}
	if len(out) == 0 && !future {
		r.quiet = true
	}
	return out
}

// Error is the forecast's weighted absolute percentage error so far:
// Σ|expected − actual| / Σ actual over the scored predictions (arrivals of
// known runs within the longest horizon), and how many were scored.
func (f *Forecaster) Error() (wape float64, scored int) {
	return f.errs.wape(), f.errs.scored
}
