// Package warmpool keeps a few engine objects made ahead of time (per-job
// networks, network namespaces), so that making them stays off a job's
// critical path. Each object still serves exactly one job: the pool hands
// it out once and never takes it back. Both executors refill their pool
// through the Refill that Held hands each job, run once the job's own engine
// calls are done.
package warmpool

import (
	"context"
	"sync"
)

// Pool holds up to a wanted number of objects made ahead. It is safe for
// concurrent use.
type Pool[T any] struct {
	want int
	make func(ctx context.Context) (T, error)
	drop func(ctx context.Context, v T)

	mu      sync.Mutex
	ready   []T
	filling bool
	stop    context.CancelFunc // stops the filler; set on first use
	fill    func()             // runs the filler with its context
	wg      sync.WaitGroup
}

// New returns a pool keeping want objects: make creates one (its error
// stops the filling until the next Refill; make logs it), drop removes
// one that nobody took. want ≤ 0 keeps none.
func New[T any](want int, make func(ctx context.Context) (T, error), drop func(ctx context.Context, v T)) *Pool[T] {
	return &Pool[T]{want: want, make: make, drop: drop}
}

// Take returns a ready object, or ok=false when none is. It does not
// refill the pool: Refill does, once the taker's own engine calls are
// done, so an object being made ahead never competes with the job that
// is starting.
func (p *Pool[T]) Take() (v T, ok bool) {
	if p.want <= 0 {
		return v, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ready) == 0 {
		return v, false
	}
	v = p.ready[0]
	p.ready = p.ready[1:]
	return v, true
}

// Ready is how many objects are ready.
func (p *Pool[T]) Ready() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready)
}

// Refill makes sure the pool refills in the background, unless it is
// full or already filling. The filler runs until Drain, apart from ctx's
// cancellation.
func (p *Pool[T]) Refill(ctx context.Context) {
	if p.want <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.filling || len(p.ready) >= p.want {
		return
	}
	if p.stop == nil {
		var fillCtx context.Context
		fillCtx, p.stop = context.WithCancel(context.WithoutCancel(ctx))
		p.fill = func() { p.fillUp(fillCtx) }
	}
	p.filling = true
	p.wg.Go(p.fill)
}

// fillUp makes objects until the pool is full, then returns.
func (p *Pool[T]) fillUp(ctx context.Context) {
	defer func() {
		p.mu.Lock()
		p.filling = false
		p.mu.Unlock()
	}()
	for {
		p.mu.Lock()
		full := len(p.ready) >= p.want
		p.mu.Unlock()
		if full || ctx.Err() != nil {
			return
		}
		v, err := p.make(ctx)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.ready = append(p.ready, v)
		p.mu.Unlock()
	}
}

// Drain stops the filler and drops the objects nobody took.
func (p *Pool[T]) Drain(ctx context.Context) {
	p.mu.Lock()
	stop := p.stop
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
	p.wg.Wait()
	p.mu.Lock()
	ready := p.ready
	p.ready = nil
	p.mu.Unlock()
	for _, v := range ready {
		p.drop(ctx, v)
	}
}
