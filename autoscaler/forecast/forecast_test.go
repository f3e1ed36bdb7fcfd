package forecast

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// shape is one run: jobs queued at offsets from its start.
type shape []time.Duration

// pushRun feeds one run of the "ci" workflow: 2 lint jobs at once, then a
// fan-out of 10 tests after lintTook.
func pushRun(f *Forecaster, id int, start time.Time, s shape, labels []string) {
	rid := fmt.Sprint(id)
	f.Observe(Event{Kind: RunStarted, At: start, Repo: "org/app", Workflow: "ci", RunID: rid})
	for i, off := range s {
		f.Observe(Event{Kind: JobQueued, At: start.Add(off), Repo: "org/app", Workflow: "ci", RunID: rid, JobID: fmt.Sprint(rid, "-", i), Labels: labels})
	}
}

func fanOut(lint time.Duration) shape {
	s := shape{0, 0}
	for range 10 {
		s = append(s, lint)
	}
	return s
}

func total(ex []policy.ExpectedJobs, within time.Duration) float64 {
	sum := 0.0
	for _, e := range ex {
		if e.Within == within {
			sum += e.Count
		}
	}
	return sum
}

var horizons = []time.Duration{15 * time.Second, 45 * time.Second, 90 * time.Second}

func TestExpected(t *testing.T) {
	labels := []string{"linux", "self-hosted"}
	tests := []struct {
		name string
		// history: past runs (an hour apart) before the run under test.
		history []shape
		// current is what the run under test has queued so far (offsets).
		current shape
		at      time.Duration // now, from the current run's start
		want    map[time.Duration]float64
	}{
		{
			name:    "no history: nothing",
			current: shape{0, 0}, at: 0,
			want: map[time.Duration]float64{15 * time.Second: 0, 45 * time.Second: 0, 90 * time.Second: 0},
		},
		{
			name:    "fan-out 60 s after the start is announced at run start",
			history: []shape{fanOut(time.Minute), fanOut(time.Minute), fanOut(time.Minute)},
			current: shape{0, 0}, at: 0,
			want: map[time.Duration]float64{15 * time.Second: 0, 45 * time.Second: 0, 90 * time.Second: 10},
		},
		{
			name:    "closer in, it falls within the cold boot horizon",
			history: []shape{fanOut(time.Minute), fanOut(time.Minute)},
			current: shape{0, 0}, at: 20 * time.Second,
			want: map[time.Duration]float64{15 * time.Second: 0, 45 * time.Second: 10, 90 * time.Second: 10},
		},
		{
			name:    "mixed history gives the mean",
			history: []shape{fanOut(time.Minute), {0, 0}},
			current: shape{0, 0}, at: 30 * time.Second,
			want: map[time.Duration]float64{45 * time.Second: 5},
		},
		{
			name:    "a late first stage shifts the prediction (matched by progress)",
			history: []shape{{0, 30 * time.Second, 90 * time.Second, 90 * time.Second}},
			current: shape{0, 5 * time.Minute}, at: 5 * time.Minute,
			want: map[time.Duration]float64{45 * time.Second: 0, 90 * time.Second: 2},
		},
		{
			name:    "overdue demand is still expected for a while",
			history: []shape{fanOut(time.Minute)},
			current: shape{0, 0}, at: 90 * time.Second,
			want: map[time.Duration]float64{15 * time.Second: 10},
		},
		{
			name:    "then it heals: demand that did not come is dropped",
			history: []shape{fanOut(time.Minute)},
			current: shape{0, 0}, at: 121 * time.Second,
			want: map[time.Duration]float64{15 * time.Second: 0, 90 * time.Second: 0},
		},
		{
			name:    "a run that outgrew its history predicts nothing more",
			history: []shape{{0, 0}},
			current: shape{0, 0, 0}, at: time.Second,
			want: map[time.Duration]float64{90 * time.Second: 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(Config{})
			for i, s := range tt.history {
				pushRun(f, i, t0.Add(time.Duration(i)*time.Hour), s, labels)
			}
			start := t0.Add(time.Duration(len(tt.history)) * time.Hour)
			pushRun(f, 99, start, tt.current, labels)
			got := f.Expected(start.Add(tt.at), horizons)
			for h, want := range tt.want {
				if c := total(got, h); math.Abs(c-want) > 1e-9 {
					t.Errorf("within %s: %.2f jobs expected, want %.2f (%+v)", h, c, want, got)
				}
			}
			for _, e := range got {
				if LabelKey(e.Labels) != "linux,self-hosted" {
					t.Errorf("labels %v", e.Labels)
				}
			}
		})
	}
}

func TestOnlyPastRunsPredict(t *testing.T) {
	f := New(Config{})
	// A run younger than the window it would speak for cannot predict:
	// its later jobs are not known yet.
	pushRun(f, 1, t0, shape{0}, nil)
	pushRun(f, 2, t0.Add(10*time.Second), shape{0}, nil)
	for _, e := range f.Expected(t0.Add(10*time.Second), horizons) {
		if e.Count != 0 {
			t.Errorf("a run 10 s old predicted %+v", e)
		}
	}
	if !f.Pending(t0.Add(10 * time.Second)) {
		t.Error("the current run should wait for its history to be watched")
	}
}

func TestRequeueIsNotAnArrival(t *testing.T) {
	f := New(Config{})
	pushRun(f, 1, t0, shape{0, time.Minute}, nil)
	f.Observe(Event{Kind: JobQueued, At: t0.Add(5 * time.Minute), Repo: "org/app", Workflow: "ci", RunID: "1", JobID: "1-0"})
	pushRun(f, 2, t0.Add(time.Hour), shape{0}, nil)
	if got := total(f.Expected(t0.Add(time.Hour+30*time.Second), horizons), 45*time.Second); got != 1 {
		t.Errorf("expected %.1f jobs, want 1 (the re-queue is no new job)", got)
	}
}

func TestErrorScoresPredictions(t *testing.T) {
	f := New(Config{})
	pushRun(f, 1, t0, fanOut(30*time.Second), nil)
	start := t0.Add(time.Hour)
	pushRun(f, 2, start, shape{0, 0}, nil)
	f.Expected(start, []time.Duration{45 * time.Second}) // 10 expected
	// Only 5 of the 10 come.
	for i := range 5 {
		f.Observe(Event{Kind: JobQueued, At: start.Add(30 * time.Second), Repo: "org/app", Workflow: "ci", RunID: "2", JobID: fmt.Sprint("x", i)})
	}
	f.Expected(start.Add(time.Minute), []time.Duration{45 * time.Second})
	wape, n := f.Error()
	if n != 1 || math.Abs(wape-1) > 1e-9 { // |10-5| / 5
		t.Errorf("wape %.2f over %d predictions, want 1.00 over 1", wape, n)
	}
}

func TestMeanDuration(t *testing.T) {
	f := New(Config{})
	pushRun(f, 1, t0, shape{0}, []string{"linux"})
	f.Observe(Event{Kind: JobStarted, At: t0.Add(time.Second), Repo: "org/app", Workflow: "ci", RunID: "1", JobID: "1-0", Labels: []string{"linux"}})
	f.Observe(Event{Kind: JobFinished, At: t0.Add(61 * time.Second), Repo: "org/app", Workflow: "ci", RunID: "1", JobID: "1-0", Labels: []string{"linux"}})
	if d, ok := f.MeanDuration("org/app", "ci", []string{"linux"}); !ok || d != time.Minute {
		t.Errorf("mean duration %v %v", d, ok)
	}
	if _, ok := f.MeanDuration("org/app", "ci", []string{"gpu"}); ok {
		t.Error("a duration for labels never seen")
	}
}

func TestHistoryIsBounded(t *testing.T) {
	f := New(Config{Runs: 3})
	for i := range 50 {
		pushRun(f, i, t0.Add(time.Duration(i)*time.Hour), fanOut(time.Minute), nil)
	}
	if n := len(f.flows[flowKey{"org/app", "ci"}].runs); n != 4 || len(f.runs) != 4 {
		t.Errorf("%d runs kept in the flow, %d indexed; want 4", n, len(f.runs))
	}
}
