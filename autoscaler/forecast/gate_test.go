package forecast

import (
	"fmt"
	"testing"
	"time"
)

// runTicked feeds one run of org/app "ci" as a live loop sees it: two jobs
// at its start, ten more at +60 s when fanOut, and a forecast asked every
// 10 s for three minutes. It returns the jobs expected within 45 s at +30 s.
func runTicked(f *Forecaster, id int, start time.Time, fanOut bool) float64 {
	rid := fmt.Sprint(id)
	f.Observe(Event{Kind: RunStarted, At: start, Repo: "org/app", Workflow: "ci", RunID: rid})
	for i := range 2 {
		f.Observe(Event{Kind: JobQueued, At: start, Repo: "org/app", Workflow: "ci", RunID: rid, JobID: fmt.Sprint(rid, "-", i)})
	}
	at30 := 0.0
	for t := 10 * time.Second; t <= 3*time.Minute; t += 10 * time.Second {
		if fanOut && t == time.Minute {
			for i := range 10 {
				f.Observe(Event{Kind: JobQueued, At: start.Add(t), Repo: "org/app", Workflow: "ci", RunID: rid, JobID: fmt.Sprint(rid, "-f", i)})
			}
		}
		got := total(f.Expected(start.Add(t), horizons), 45*time.Second)
		if t == 30*time.Second {
			at30 = got
		}
	}
	return at30
}

func TestGateClosesOnAWorkflowWhosePredictionsFail(t *testing.T) {
	tests := []struct {
		name     string
		maxError float64
		changed  bool // the workflow stopped fanning out
		want     float64
	}{
		{"a workflow that keeps its shape stays open", 1, false, 10},
		{"no gate: stale predictions go on", 0, true, 10},
		{"a workflow whose predictions keep failing is closed", 1, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(Config{Quantile: 0.9, MaxFlowError: tt.maxError})
			for i := range 10 {
				runTicked(f, i, t0.Add(time.Duration(i)*time.Hour), true)
			}
			got := 0.0
			for i := 10; i < 15; i++ {
				got = runTicked(f, i, t0.Add(time.Duration(i)*time.Hour), !tt.changed)
			}
			if got != tt.want {
				t.Errorf("expected within 45 s at +30 s of the 5th run after the change: %.1f, want %.1f", got, tt.want)
			}
		})
	}
}
