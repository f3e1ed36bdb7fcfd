package forecast

import (
	"time"
)

// prediction is a forecast waiting for its window to pass.
type prediction struct {
	at       time.Time
	within   time.Duration
	expected float64
}

// errorTracker scores predictions against the arrivals that came.
type errorTracker struct {
	pending  []prediction
	arrivals []time.Time // first queue times of known runs' jobs, in order
	absErr   float64
	actual   float64
	scored   int
}

func (t *errorTracker) arrived(at time.Time) { t.arrivals = append(t.arrivals, at) }

func (t *errorTracker) predicted(at time.Time, within time.Duration, expected float64) {
	t.pending = append(t.pending, prediction{at, within, expected})
}

// settle scores the predictions whose window ended by now.
func (t *errorTracker) settle(now time.Time) {
	done := 0
	for _, p := range t.pending {
		end := p.at.Add(p.within)
		if end.After(now) {
			break
		}
		got := float64(t.countIn(p.at, end))
		if p.expected > 0 || got > 0 {
			t.absErr += abs(p.expected - got)
			t.actual += got
			t.scored++
		}
		done++
	}
	t.pending = t.pending[done:]
	// Arrivals up to the first pending window's start (or now) are no
	// longer needed.
	from := now
	if len(t.pending) > 0 {
		from = t.pending[0].at
	}
	t.arrivals = t.arrivals[t.index(from):]
}

// index is the position of the first arrival after at.
func (t *errorTracker) index(at time.Time) int { return countUpTo(t.arrivals, at) }

// countIn counts arrivals in (from, to].
func (t *errorTracker) countIn(from, to time.Time) int {
	return t.index(to) - t.index(from)
}

func (t *errorTracker) wape() float64 {
	if t.actual == 0 {
		return t.absErr
	}
	return t.absErr / t.actual
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
