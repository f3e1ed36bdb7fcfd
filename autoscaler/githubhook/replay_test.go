package githubhook

import (
	"testing"
	"time"
)

func TestDeliverySet(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	type add struct {
		at   time.Duration // after t0
		id   string
		want bool // new
	}
	cases := []struct {
		name    string
		window  time.Duration
		max     int
		adds    []add
		wantLen int
	}{
		{"duplicate within the window", time.Hour, 10, []add{{0, "a", true}, {59 * time.Minute, "a", false}}, 1},
		{"forgotten after the window", time.Hour, 10, []add{{0, "a", true}, {time.Hour + time.Nanosecond, "a", true}}, 1},
		{"expiry frees the old ones", time.Hour, 10, []add{{0, "a", true}, {0, "b", true}, {2 * time.Hour, "c", true}}, 1},
		{"cap evicts the oldest", 24 * time.Hour, 2, []add{{0, "a", true}, {1, "b", true}, {2, "c", true}, {3, "b", false}, {4, "a", true}}, 2},
		{"a duplicate does not refresh its time", time.Hour, 10, []add{{0, "a", true}, {50 * time.Minute, "a", false}, {61 * time.Minute, "a", true}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newDeliverySet(tc.window, tc.max)
			for i, a := range tc.adds {
				if got := s.add(a.id, t0.Add(a.at)); got != a.want {
					t.Errorf("add %d (%s at +%v) = %v, want %v", i, a.id, a.at, got, a.want)
				}
			}
			if s.len() != tc.wantLen || len(s.seen) != s.len() {
				t.Errorf("holds %d ids (map %d), want %d", s.len(), len(s.seen), tc.wantLen)
			}
		})
	}
}
