package gitlab

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	constant := func(v float64) func() float64 { return func() float64 { return v } }
	tests := []struct {
		name string
		b    Backoff
		want []time.Duration
	}{
		{"no jitter doubles and caps", Backoff{Min: time.Second, Max: 5 * time.Second},
			[]time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}},
		{"factor 3", Backoff{Min: 100 * time.Millisecond, Max: time.Second, Factor: 3},
			[]time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 900 * time.Millisecond, time.Second}},
		{"full jitter at 0 is Min", Backoff{Min: time.Second, Max: 8 * time.Second, Jitter: FullJitter, Rand: constant(0)},
			[]time.Duration{time.Second, time.Second, time.Second}},
		{"full jitter at 0.5", Backoff{Min: time.Second, Max: 8 * time.Second, Jitter: FullJitter, Rand: constant(0.5)},
			[]time.Duration{time.Second, 1500 * time.Millisecond, 2500 * time.Millisecond, 4500 * time.Millisecond, 4500 * time.Millisecond}},
		{"equal jitter at 0", Backoff{Min: time.Second, Max: 8 * time.Second, Jitter: EqualJitter, Rand: constant(0)},
			[]time.Duration{time.Second, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}},
		{"zero value defaults", Backoff{}, []time.Duration{time.Second, 2 * time.Second}},
		{"max below min", Backoff{Min: 2 * time.Second, Max: time.Second}, []time.Duration{2 * time.Second, 2 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b
			for i, want := range tc.want {
				if got := b.Next(); got != want {
					t.Errorf("Next #%d = %v, want %v", i, got, want)
				}
			}
			b.Reset()
			if got := b.Next(); got != tc.want[0] {
				t.Errorf("after Reset: %v, want %v", got, tc.want[0])
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	for _, j := range []Jitter{NoJitter, FullJitter, EqualJitter} {
		b := Backoff{Min: 10 * time.Millisecond, Max: time.Second, Jitter: j}
		for i := range 200 {
			d := b.Next()
			if d < b.Min || d > b.Max {
				t.Fatalf("jitter %d attempt %d: %v outside [%v, %v]", j, i, d, b.Min, b.Max)
			}
		}
		if d := b.Delay(1 << 20); d > b.Max || d < b.Min {
			t.Fatalf("huge attempt: %v", d)
		}
	}
}
