package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/forecast"
)

// BenchmarkOracleRate: what a simulated tick costs the oracle for the
// unannounced rate. forecaster-expected is the baseline (a full
// forecast, as the oracle asked before, summing its Unannounced);
// unannounced-per-hour is what it asks now. Both read a forecaster fed
// the push trace's run starts and queued jobs up to its middle; compare them as a ratio.
func BenchmarkOracleRate(b *testing.B) {
	jobs := loadPushTrace(b)
	f := forecast.New(forecast.Config{RateWindow: RateWindow})
	var events []forecast.Event
	for _, j := range jobs {
		if j.Run.ID != "" && j.Run.Created.Before(j.Arrival) {
			events = append(events, forecast.Event{Kind: forecast.RunStarted, At: j.Run.Created, Repo: j.Run.Repo, Workflow: j.Run.Workflow, RunID: j.Run.ID})
		}
		events = append(events, forecast.Event{Kind: forecast.JobQueued, At: j.Arrival, Repo: j.Run.Repo, Workflow: j.Run.Workflow, RunID: j.Run.ID, JobID: j.ID, Labels: j.Labels})
	}
	slices.SortStableFunc(events, func(a, b forecast.Event) int { return a.At.Compare(b.At) })
	now := jobs[len(jobs)/2].Arrival // mid-trace: runs in progress
	for _, e := range events {
		if !e.At.After(now) {
			f.Observe(e)
		}
	}
	hs := []time.Duration{45 * time.Second, 2 * time.Minute, 5 * time.Minute}
	b.Run("forecaster-expected", func(b *testing.B) {
		for b.Loop() {
			u := 0.0
			for _, e := range f.Expected(now, hs) {
				u += e.Unannounced
			}
			_ = u
		}
	})
	b.Run("unannounced-per-hour", func(b *testing.B) {
		for b.Loop() {
			_ = f.UnannouncedPerHour(now) * hs[0].Hours()
		}
	})
}
