package sim

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/forecast"
)

func TestOracleKnowsJobsFromTheirSignal(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	run := RunInfo{Repo: "r", Workflow: "ci", ID: "1", Created: t0}
	run2 := RunInfo{Repo: "r", Workflow: "ci", ID: "2", Created: t0.Add(time.Hour)}
	jobs := []Job{
		{ID: "first", Arrival: t0, Run: run},                            // no earlier signal
		{ID: "fan-out", Arrival: t0.Add(90 * time.Second), Run: run},    // known from t0
		{ID: "stray", Arrival: t0.Add(100 * time.Second)},               // no run: known when it queues
		{ID: "late", Arrival: t0.Add(10 * time.Minute), Run: RunInfo{}}, // beyond every horizon
		{ID: "next", Arrival: t0.Add(time.Hour + 90*time.Second), Run: run2},
	}
	h := []time.Duration{45 * time.Second, 2 * time.Minute}
	tests := []struct {
		name string
		mode OracleMode
		at   time.Duration
		want map[time.Duration]float64
	}{
		{"before the run: nothing known", OracleSignal, -time.Minute, map[time.Duration]float64{}},
		{"the run announces its fan-out", OracleSignal, 0, map[time.Duration]float64{2 * time.Minute: 1}},
		{"within a boot of the fan-out", OracleSignal, 60 * time.Second, map[time.Duration]float64{45 * time.Second: 1, 2 * time.Minute: 1}},
		{"learned: a workflow's first run teaches nothing yet", OracleLearned, 60 * time.Second, map[time.Duration]float64{}},
		{"learned: its second run is known from its start", OracleLearned, time.Hour, map[time.Duration]float64{2 * time.Minute: 1}},
		{"clairvoyant: the first job before its run", OracleClairvoyant, -time.Minute, map[time.Duration]float64{45 * time.Second: 0, 2 * time.Minute: 1}},
		{"clairvoyant: the stray job too", OracleClairvoyant, 0, map[time.Duration]float64{2 * time.Minute: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOracle(jobs, tt.mode)
			got := map[time.Duration]float64{}
			for _, e := range o.Expected(t0.Add(tt.at), h) {
				got[e.Within] += e.Count
			}
			for _, hh := range h {
				if got[hh] != tt.want[hh] {
					t.Errorf("within %s: %.0f expected, want %.0f", hh, got[hh], tt.want[hh])
				}
			}
		})
	}
}

// TestSignalOracleBoundsTheForecaster: planning with the signal oracle,
// the same policy waits no longer than with runfleet's forecaster.
func TestSignalOracleBoundsTheForecaster(t *testing.T) {
	jobs := loadPushTrace(t)[:1500]
	st := Settings{Horizon: 2, Quantile: 0.9}
	fc := Sweep(jobs, goalScenario(), []Settings{st}, "")[0]
	or := Sweep(jobs, goalScenario(), []Settings{st}, OracleSignal)[0]
	t.Logf("forecaster %v\noracle %v", fc, or)
	if or.P95WaitS > fc.P95WaitS || or.Over10s > fc.Over10s || or.CostRatio > fc.CostRatio {
		t.Errorf("the oracle did worse: oracle p95 %.0f s %.2fx, forecaster p95 %.0f s %.2fx", or.P95WaitS, or.CostRatio, fc.P95WaitS, fc.CostRatio)
	}
}

// TestOracleUnannouncedRate: the oracle expects, besides the jobs it
// knows, the rate of recent arrivals nothing announced (here jobs of no
// run, and a run's first job queued with it), over RateWindow.
func TestOracleUnannouncedRate(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	o := NewOracle(nil, OracleSignal)
	for i := range 3 {
		o.Observe(forecast.Event{Kind: forecast.JobQueued, At: t0.Add(time.Duration(i) * time.Minute), JobID: fmt.Sprint(i)})
	}
	run := forecast.Event{Repo: "r", Workflow: "ci", RunID: "1", At: t0.Add(3 * time.Minute)}
	for _, k := range []forecast.EventKind{forecast.RunStarted, forecast.JobQueued, forecast.JobStarted, forecast.JobFinished} {
		e := run
		e.Kind, e.JobID = k, "build"
		o.Observe(e)
	}
	h := 45 * time.Second
	got := o.Expected(t0.Add(5*time.Minute), []time.Duration{h})
	want := 4 * h.Hours() / RateWindow.Hours()
	if len(got) != 1 || got[0].Count != 0 || math.Abs(got[0].Unannounced-want) > 1e-9 {
		t.Errorf("expected %+v, want %.4f unannounced within %s and nothing known", got, want, h)
	}
}
