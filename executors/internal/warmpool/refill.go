package warmpool

import (
	"context"
	"sync"
)

// Refill is the refill of a pool that one job owes, held back until the
// job's own engine calls are done: a job whose container starts with its
// Create runs it when Create returns, a first-step job once its
// container started (or when its Env closes, if it never did), and a job
// whose Create failed once it cleaned up. Run refills the pool once,
// however often it is called; a nil *Refill (a job that takes nothing
// from the pool) does nothing.
type Refill struct {
	once sync.Once
	fill func(ctx context.Context)
}

// Held returns the refill a job that takes from p owes it.
func (p *Pool[T]) Held() *Refill { return &Refill{fill: p.Refill} }

// Run refills the pool in the background, the first time it is called.
// The filler keeps ctx's values, not its end (see Pool.Refill).
func (r *Refill) Run(ctx context.Context) {
	if r != nil {
		r.once.Do(func() { r.fill(ctx) })
	}
}
