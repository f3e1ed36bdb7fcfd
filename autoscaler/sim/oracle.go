package sim

import (
	"sort"
	"time"

	"github.com/runfleet/runfleet/autoscaler/forecast"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// Oracle is a perfect forecast, for bounds only: it reads the trace's
// future, which a real forecaster must never do. Planning with it through
// the same Plan code shows what no forecaster can beat. What it knows
// depends on its OracleMode.
//
// It takes the rate of unannounced arrivals (policy.ExpectedJobs
// .Unannounced) from a forecast.Forecaster fed the same run starts and
// queued jobs, so a pool's IdleRisk works with it as with the forecaster;
// it reads only that rate (UnannouncedPerHour), never the forecaster's
// predictions.
type Oracle struct {
	arrivals []time.Time // by time
	known    []time.Time // when each arrival becomes known
	rates    *forecast.Forecaster
}

// OracleMode says what an Oracle knows.
type OracleMode string

// Oracle modes.
const (
	// OracleSignal knows each job exactly, but only from its first signal
	// on (its run's creation; a job without a run: its own queue time):
	// the bound for a forecaster that knows every run's shape and timing
	// once it starts. Jobs with no earlier signal stay unforeseeable, so
	// only idle capacity serves them at once.
	OracleSignal OracleMode = "signal oracle"
	// OracleLearned is OracleSignal that knows nothing of a workflow's
	// first run (there is nothing to learn its shape from yet): the bound
	// for any forecaster that learns from past runs.
	OracleLearned OracleMode = "learned oracle"
	// OracleClairvoyant knows every arrival from the start.
	OracleClairvoyant OracleMode = "clairvoyant"
)

// NewOracle returns an oracle over jobs (sorted by arrival).
func NewOracle(jobs []Job, mode OracleMode) *Oracle {
	o := &Oracle{arrivals: make([]time.Time, len(jobs)), known: make([]time.Time, len(jobs)), rates: forecast.New(forecast.Config{RateWindow: RateWindow})}
	type flow struct{ repo, workflow string }
	first := map[flow]RunInfo{}
	for _, j := range jobs {
		f := flow{j.Run.Repo, j.Run.Workflow}
		if r, ok := first[f]; j.Run.ID != "" && (!ok || j.Run.Created.Before(r.Created)) {
			first[f] = j.Run
		}
	}
	for i, j := range jobs {
		o.arrivals[i] = j.Arrival
		switch {
		case mode == OracleClairvoyant:
			o.known[i] = time.Time{}
		case j.Run.ID == "" || !j.Run.Created.Before(j.Arrival):
			o.known[i] = j.Arrival
		case mode == OracleLearned && first[flow{j.Run.Repo, j.Run.Workflow}].ID == j.Run.ID:
			o.known[i] = j.Arrival
		default:
			o.known[i] = j.Run.Created
		}
	}
	return o
}

// Observe feeds the rate of unannounced arrivals (run starts and queued
// jobs: which arrivals a run announced); the oracle knows the trace
// already.
func (o *Oracle) Observe(e forecast.Event) {
	if e.Kind == forecast.RunStarted || e.Kind == forecast.JobQueued {
		o.rates.Observe(e)
	}
}

// Expected counts, per horizon, the arrivals in (now, now+h] known by now,
// in one entry per horizon (label sets merged, as the simulator's pool
// takes every job), with the unannounced jobs the recent rate gives.
func (o *Oracle) Expected(now time.Time, horizons []time.Duration) []policy.ExpectedJobs {
	var out []policy.ExpectedJobs
	rate := o.rates.UnannouncedPerHour(now)
	i := o.after(now)
	for _, h := range horizons {
		n := 0
		for j := i; j < len(o.arrivals) && !o.arrivals[j].After(now.Add(h)); j++ {
			if !o.known[j].After(now) {
				n++
			}
		}
		if u := rate * h.Hours(); n > 0 || u > 0 {
			out = append(out, policy.ExpectedJobs{Within: h, Count: float64(n), Unannounced: u})
		}
	}
	return out
}

// after is the index of the first arrival after t.
func (o *Oracle) after(t time.Time) int {
	return sort.Search(len(o.arrivals), func(i int) bool { return o.arrivals[i].After(t) })
}

// Pending reports whether an arrival is due within the longest horizon a
// pool plans with (the simulator must not skip past its launch).
func (o *Oracle) Pending(now time.Time) bool {
	i := o.after(now)
	return i < len(o.arrivals) && o.arrivals[i].Sub(now) <= oracleLook
}

// Wake is the next time the oracle will expect something: the simulator
// must not skip past it.
func (o *Oracle) Wake(now time.Time) (time.Time, bool) {
	i := o.after(now)
	if i >= len(o.arrivals) {
		return time.Time{}, false
	}
	return o.arrivals[i].Add(-oracleLook), true
}

// oracleLook is how far ahead the simulator wakes for an oracle: beyond
// any boot it models.
const oracleLook = 5 * time.Minute

// Error is zero: the oracle is never wrong.
func (o *Oracle) Error() (float64, int) { return 0, 0 }
