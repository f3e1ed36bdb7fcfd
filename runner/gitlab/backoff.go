package gitlab

import (
	"math"
	"math/rand/v2"
	"time"
)

// Jitter selects how Backoff randomises its delays.
type Jitter int

// Jitter modes.
const (
	// NoJitter returns the capped exponential delay itself.
	NoJitter Jitter = iota
	// FullJitter draws uniformly from [Min, delay].
	FullJitter
	// EqualJitter draws uniformly from [delay/2, delay] (never below Min).
	EqualJitter
)

// Backoff defaults, used for zero fields.
const (
	DefaultBackoffMin    = time.Second
	DefaultBackoffMax    = time.Minute
	DefaultBackoffFactor = 2.0
)

// Backoff computes capped exponential delays: the n-th call of Next (from 0)
// bases its delay on Min*Factor^n, capped at Max, then applies Jitter. The
// zero value is usable (1s, 1m, factor 2, no jitter). A Backoff is not safe
// for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	Factor   float64
	Jitter   Jitter
	// Rand returns a float in [0, 1); nil uses math/rand/v2.
	Rand func() float64

	attempt int
}

// Next returns the delay before the next attempt and advances the sequence.
func (b *Backoff) Next() time.Duration {
	d := b.Delay(b.attempt)
	if b.attempt < math.MaxInt32 {
		b.attempt++
	}
	return d
}

// Reset restarts the sequence at Min, e.g. after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// Delay returns the delay for attempt n (0-based) without changing state.
func (b *Backoff) Delay(n int) time.Duration {
	lo, hi, factor := b.Min, b.Max, b.Factor
	if lo <= 0 {
		lo = DefaultBackoffMin
	}
	if hi <= 0 {
		hi = DefaultBackoffMax
	}
	if hi < lo {
		hi = lo
	}
	if factor <= 1 {
		factor = DefaultBackoffFactor
	}
	d := hi
	if f := float64(lo) * math.Pow(factor, float64(n)); f < float64(hi) {
		d = time.Duration(f)
	}
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	switch b.Jitter {
	case FullJitter:
		d = lo + time.Duration(r()*float64(d-lo))
	case EqualJitter:
		d = d/2 + time.Duration(r()*float64(d/2))
		if d < lo {
			d = lo
		}
	}
	return d
}
