package forecast

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func unannouncedWithin(f *Forecaster, now time.Time, within time.Duration) float64 {
	sum := 0.0
	for _, e := range f.Expected(now, []time.Duration{within}) {
		sum += e.Unannounced
	}
	return sum
}

func TestUnannouncedRate(t *testing.T) {
	const window = 30 * time.Minute
	tests := []struct {
		name string
		// runs start at these offsets from t0, each with these job offsets.
		starts []time.Duration
		jobs   shape
		at     time.Duration // asked at t0+at
		// want is the mean count of unannounced jobs within 45 s.
		want float64
	}{
		{"first stage queues with its run", []time.Duration{0, 5 * time.Minute, 10 * time.Minute}, shape{0}, 15 * time.Minute, 3 * 0.75 / 30},
		{"a run announced a minute ahead is not a surprise", []time.Duration{0, 5 * time.Minute}, shape{time.Minute}, 15 * time.Minute, 0},
		{"only the first wave counts", []time.Duration{0}, fanOut(2 * time.Minute), 15 * time.Minute, 2 * 0.75 / 30},
		{"arrivals older than the window are forgotten", []time.Duration{0, 5 * time.Minute}, shape{0}, 34 * time.Minute, 0.75 / 30},
		{"yesterday's next window anticipates today's", []time.Duration{10 * time.Minute, 20 * time.Minute}, shape{0}, 24 * time.Hour, 2 * 0.75 / 30},
		{"arrivals after now are not counted", []time.Duration{0, 20 * time.Minute}, shape{0}, 10 * time.Minute, 0.75 / 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(Config{RateWindow: window})
			for i, st := range tt.starts {
				pushRun(f, i, t0.Add(st), tt.jobs, nil)
			}
			got := unannouncedWithin(f, t0.Add(tt.at), 45*time.Second)
			if math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("unannounced within 45 s: %.4f, want %.4f", got, tt.want)
			}
			if got := f.UnannouncedPerHour(t0.Add(tt.at)) * (45 * time.Second).Hours(); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("UnannouncedPerHour × 45 s: %.4f, want %.4f", got, tt.want)
			}
		})
	}
}

func TestJobsOfNoRunAreUnannounced(t *testing.T) {
	f := New(Config{RateWindow: 30 * time.Minute})
	for i := range 3 {
		f.Observe(Event{Kind: JobQueued, At: t0.Add(time.Duration(i) * time.Minute), JobID: fmt.Sprint(i)})
	}
	if got, want := unannouncedWithin(f, t0.Add(5*time.Minute), 45*time.Second), 3*0.75/30; math.Abs(got-want) > 1e-9 {
		t.Errorf("unannounced within 45 s: %.4f, want %.4f", got, want)
	}
	if got := total(f.Expected(t0.Add(5*time.Minute), horizons), 45*time.Second); got != 0 {
		t.Errorf("jobs of no run predicted %.1f more", got)
	}
}

func TestUnannouncedRateIsOptIn(t *testing.T) {
	f := New(Config{})
	pushRun(f, 1, t0, shape{0}, nil)
	if got := unannouncedWithin(f, t0.Add(time.Minute), 45*time.Second); got != 0 {
		t.Errorf("unannounced %.3f without a RateWindow", got)
	}
}
