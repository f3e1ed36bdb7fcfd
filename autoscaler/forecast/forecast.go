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
	// WaveGap splits a run's arrivals into waves (stages): a job queued
	// more than WaveGap after the run's previous one starts a new wave
	// (default 20 s). A run in progress is matched to past runs at the
	// start of its latest wave.
	WaveGap time.Duration
	// Quantile, in (0, 1), makes the expected count per horizon that
	// quantile over the past runs instead of their mean: above 0.5 it
	// plans for the runs whose waves came early, so capacity is ready for
	// them too, at the price of idle time when the wave comes late.
	Quantile float64
	// MaxFlowError, when positive, stops using the predictions of a
	// workflow whose own recent error (WAPE over its last scored windows,
	// once it has 20) is above it; they are still scored, so the workflow is used again once
	// its predictions come true. 0: every workflow's are used.
	MaxFlowError float64
	// RateWindow, when positive, measures the rate of unannounced
	// arrivals (policy.ExpectedJobs.Unannounced, for pools with an
	// IdleRisk) over the last window and the one that began a day earlier
	// (30 min is a good value). 0: not measured.
	RateWindow time.Duration
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
	if c.WaveGap <= 0 {
		c.WaveGap = 20 * time.Second
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
	waves   []wave
	running map[string]time.Time // job → started at
	quiet   bool                 // predicts nothing until its next event
}

// wave is a burst of a run's jobs: arrivals less than Config.WaveGap
// apart. first indexes the run's jobs.
type wave struct {
	first int
	start time.Duration
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
	surprise  unannounced
	gate      flowGate
}

// New returns an empty forecaster.
func New(cfg Config) *Forecaster {
	cfg = cfg.withDefaults()
	return &Forecaster{cfg: cfg, flows: map[flowKey]*flow{}, runs: map[runKey]*run{}, durations: map[string]*durationStat{},
		surprise: unannounced{window: cfg.RateWindow}, gate: flowGate{max: cfg.MaxFlowError}}
}

// LabelKey is the canonical form of a label set: sorted, comma-joined.
func LabelKey(labels []string) string {
	l := slices.Clone(labels)
	slices.Sort(l)
	return strings.Join(slices.Compact(l), ",")
}

// Observe feeds one event. Events must come in time order; an event
// without a run id belongs to no workflow the forecaster can learn: a job
// queued without one only counts as an unannounced arrival.
func (f *Forecaster) Observe(e Event) {
	if e.RunID == "" {
		if e.Kind == JobQueued && f.cfg.RateWindow > 0 {
			f.surprise.arrived(LabelKey(e.Labels), e.At)
		}
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
		off := max(e.At.Sub(r.start), 0)
		if n := len(r.jobs); n == 0 || off-r.jobs[n-1].off > f.cfg.WaveGap {
			r.waves = append(r.waves, wave{first: n, start: off})
		}
		labels := LabelKey(e.Labels)
		r.jobs = append(r.jobs, arrival{off: off, labels: labels})
		if f.cfg.RateWindow > 0 && len(r.waves) == 1 && off <= f.cfg.WaveGap {
			f.surprise.arrived(labels, e.At)
		}
		f.errs.arrived(e.At)
		f.gate.arrived(fk, e.At)
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
// in (now, now+h] from the runs in progress, and the unannounced ones
// the recent rate of arrivals no run announced gives for h. now must not be before the
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
	f.gate.settle(now)
	counts := map[string][]float64{} // labels → per horizon
	total := 0.0
	var flows map[flowKey]float64 // each workflow's prediction, used or not (only with a gate)
	if f.gate.max > 0 {
		flows = map[flowKey]float64{}
	}
	for _, r := range f.active(now) {
		got := f.predict(r, now, hs, longest)
		if flows != nil {
			flows[r.flow] += 0 // a workflow predicting nothing is scored too
			for _, c := range got {
				flows[r.flow] += c[len(hs)-1]
			}
		}
		if !f.gate.open(r.flow) {
			continue
		}
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
	for fk, n := range flows {
		f.gate.predicted(fk, now, longest, n)
	}
	rates := f.surprise.perHour(now)
	for k := range rates {
		if counts[k] == nil {
			counts[k] = make([]float64, len(hs))
		}
	}
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
			c, u := counts[k][i], rates[k]*h.Hours()
			if c > 0 || u > 0 {
				out = append(out, policy.ExpectedJobs{Labels: labels, Within: h, Count: c, Unannounced: u})
			}
		}
	}
	return out
}

// UnannouncedPerHour is the rate of arrivals no run announced, per hour,
// summed over label sets: Expected's Unannounced for a horizon h is this
// rate × h, split by label set. It predicts no run and scores nothing,
// for a caller that knows the runs itself (the simulator's oracle) and
// merges label sets.
func (f *Forecaster) UnannouncedPerHour(now time.Time) float64 {
	rates := f.surprise.perHour(now)
	keys := make([]string, 0, len(rates))
	for k := range rates {
		keys = append(keys, k)
	}
	slices.Sort(keys) // one order: the same sum every time
	sum := 0.0
	for _, k := range keys {
		sum += rates[k]
	}
	return sum
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
	k := len(r.waves)
	anchor := r.start
	inWave := 0
	if k > 0 {
		anchor = r.start.Add(r.waves[k-1].start)
		inWave = len(r.jobs) - r.waves[k-1].first
	}
	fl := f.flows[r.flow]
	var per []map[string][]float64 // one per past run used
	used, older, future := 0, 0, false
	for i := len(fl.runs) - 1; i >= 0 && used < f.cfg.Runs; i-- {
		p := fl.runs[i]
		if p == r || !p.start.Before(r.start) {
			continue
		}
		older++
		tau, from := time.Duration(0), 0
		if k > 0 {
			if len(p.waves) < k {
				// r is further along than p ever went: p predicts none.
				if now.Sub(p.start) >= r.waves[k-1].start+longest {
					used++
					per = append(per, nil)
				}
				continue
			}
			pw := p.waves[k-1]
			end := len(p.jobs)
			if k < len(p.waves) {
				end = p.waves[k].first
			}
			tau, from = pw.start, min(pw.first+inWave, end)
		}
		// p must have been watched over the whole window it speaks for.
		if now.Sub(p.start) < tau+now.Add(longest).Sub(anchor) {
			continue
		}
		used++
		out := map[string][]float64{}
		per = append(per, out)
		for _, a := range p.jobs[from:] {
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
	out := f.combine(per, len(hs))
	if len(out) == 0 && !future {
		r.quiet = true
	}
	return out
}

// combine merges the past runs' counts per label set and horizon: their
// mean, or the configured quantile.
func (f *Forecaster) combine(per []map[string][]float64, nh int) map[string][]float64 {
	out := map[string][]float64{}
	for _, m := range per {
		for labels := range m {
			if out[labels] == nil {
				out[labels] = make([]float64, nh)
			}
		}
	}
	vals := make([]float64, len(per))
	for labels, c := range out {
		for k := range nh {
			for i, m := range per {
				vals[i] = 0
				if v := m[labels]; v != nil {
					vals[i] = v[k]
				}
			}
			c[k] = f.aggregate(vals)
		}
	}
	return out
}

func (f *Forecaster) aggregate(vals []float64) float64 {
	q := f.cfg.Quantile
	if q <= 0 || q >= 1 {
		sum := 0.0
		for _, v := range vals {
			sum += v
		}
		return sum / float64(len(vals))
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

// Error is the forecast's weighted absolute percentage error so far:
// Σ|expected − actual| / Σ actual over the scored predictions (arrivals of
// known runs within the longest horizon), and how many were scored.
func (f *Forecaster) Error() (wape float64, scored int) {
	return f.errs.wape(), f.errs.scored
}
