package runner

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/runfleet/runfleet/runner/clock"
)

// turnoverHold is the longest a slot counts as starting after its job
// ended while it polls for its next one (a queued job comes within
// milliseconds; an empty queue must not hold the cleanup long).
const turnoverHold = 300 * time.Millisecond

// cleanups are the engine cleanups of finished jobs (Cleaner) that run
// after their slots were freed. At most max run at once: a slot whose job
// ended while max are running waits, still holding its slot, so a node
// never piles up unremoved containers. Run waits for them before it
// returns, so the agent never exits with one in flight. Starts come
// first: a cleanup waits, up to startHold ([cleanup] start_hold), while a
// job starts (Starter).
type cleanups struct {
	max       int
	startHold time.Duration

	mu      sync.Mutex
	running map[*cleaning]struct{}
	// ended is closed and replaced whenever a cleanup ends.
	ended chan struct{}
	// starting counts the jobs starting; started is closed and replaced
	// whenever one is up.
	starting int
	started  chan struct{}
}

// cleaning is one cleanup in flight.
type cleaning struct {
	source, job string
	since       time.Time
}

func newCleanups(n int, startHold time.Duration) *cleanups {
	return &cleanups{max: n, startHold: startHold, running: map[*cleaning]struct{}{}, ended: make(chan struct{}), started: make(chan struct{})}
}

// reserve waits for room for one more cleanup and counts it in flight.
// Once ctx ends (the slot takes no more jobs) it stops waiting and goes
// over the bound: holding the slot would only hold up the shutdown.
func (c *cleanups) reserve(ctx context.Context, cl *cleaning) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.running) >= c.max && ctx.Err() == nil {
		ended := c.ended
		c.mu.Unlock()
		select {
		case <-ended:
		case <-ctx.Done():
		}
		c.mu.Lock()
	}
	c.running[cl] = struct{}{}
}

// turnover counts a slot that has just freed itself from a job as
// starting, until end is called or turnoverHold has passed.
func (a *Agent) turnover() (end func()) {
	done := a.cleanups.beginStart()
	stop := clock.AfterFunc(a.clock, turnoverHold, done)
	return func() {
		stop()
		done()
	}
}

// beginStart counts one start until end is called (more than once is
// fine): a slot between a job and its next, or a job not yet up.
func (c *cleanups) beginStart() (end func()) {
	c.mu.Lock()
	c.starting++
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.starting--
			close(c.started)
			c.started = make(chan struct{})
		})
	}
}

// starts counts job as starting until it is up (its Started is closed)
// or the returned func is called (its Run returned), whichever is first.
func (c *cleanups) starts(job Job) (ran func()) {
	s, ok := job.(Starter)
	if !ok {
		return func() {}
	}
	end := c.beginStart()
	returned := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-s.Started():
		case <-returned:
		}
		end()
	}()
	return func() {
		close(returned)
		<-done
	}
}

// waitStarts blocks while a job starts, up to hold (or ctx).
func (c *cleanups) waitStarts(ctx context.Context, hold <-chan struct{}) {
	for {
		c.mu.Lock()
		n, started := c.starting, c.started
		c.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-started:
		case <-hold:
			return
		case <-ctx.Done():
			return
		}
	}
}

// done counts cl out.
func (c *cleanups) done(cl *cleaning) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.running, cl)
	close(c.ended)
	c.ended = make(chan struct{})
}

// count is the number of cleanups in flight.
func (c *cleanups) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.running)
}

// wait blocks until no cleanup is in flight or ctx ends.
func (c *cleanups) wait(ctx context.Context) error {
	for {
		c.mu.Lock()
		n, ended := len(c.running), c.ended
		c.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ended:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// left names the jobs whose cleanup is still in flight, "source/job".
func (c *cleanups) left() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for cl := range c.running {
		ids = append(ids, cl.source+"/"+cl.job)
	}
	slices.Sort(ids)
	return ids
}

// cleanUp starts job's Cleanup, when it is a Cleaner, in the background,
// bounded by the cleanup timeout and detached from the job's abort:
// first it waits, holding the caller's slot, while the most cleanups
// allowed are in flight (until pollCtx ends). cleanCtx is the base of
// every cleanup's context, cancelled when Run gives up waiting for them.
func (a *Agent) cleanUp(pollCtx, cleanCtx context.Context, log *slog.Logger, source string, job Job) {
	c, ok := job.(Cleaner)
	if !ok {
		return
	}
	cl := &cleaning{source: source, job: job.ID()}
	a.cleanups.reserve(pollCtx, cl)
	cl.since = a.clock.Now()
	a.metrics.cleaningStarted(source)
	go func() {
		ctx, cancel := context.WithCancel(cleanCtx)
		defer cancel()
		stop := clock.AfterFunc(a.clock, a.cleanupTimeout, cancel)
		defer stop()
		// Starts first: the jobs starting now (often the one that took
		// this slot) get the engine to themselves.
		hold := make(chan struct{})
		stopHold := clock.AfterFunc(a.clock, a.cleanups.startHold, func() { close(hold) })
		a.cleanups.waitStarts(ctx, hold)
		stopHold()
		err := c.Cleanup(ctx)
		d := a.clock.Now().Sub(cl.since).Round(time.Millisecond)
		if err != nil {
			a.metrics.cleanupFailed(source)
			log.Warn("cleaning up after the job failed: the reaper removes what is left", "err", err, "duration", d)
		} else {
			log.Debug("job cleaned up", "duration", d)
		}
		a.metrics.cleaningEnded(source)
		a.cleanups.done(cl)
	}()
}

// waitCleanups waits, up to the cleanup timeout, for the cleanups in
// flight, then cancels those left (the next start's reap removes what
// they leave, found by the node's label).
func (a *Agent) waitCleanups(ctx context.Context, cancelCleanups context.CancelFunc) {
	defer cancelCleanups()
	n := a.cleanups.count()
	if n == 0 {
		return
	}
	a.logger.Info("waiting for the cleanups of finished jobs", "cleanups", n, "timeout", a.cleanupTimeout)
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := clock.AfterFunc(a.clock, a.cleanupTimeout, cancel)
	defer stop()
	if a.cleanups.wait(wctx) != nil {
		a.logger.Warn("job cleanups still running at the timeout: cancelling them; the next start's reap removes what they leave",
			"jobs", strings.Join(a.cleanups.left(), " "))
	}
}
