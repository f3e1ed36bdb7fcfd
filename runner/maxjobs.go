package runner

import (
	"context"
	"sync"
)

// jobBudget caps the jobs a node starts in its life: a single-use pool
// (the autoscaler's max_jobs_per_node, learnt when the node registers)
// must not let a second job in while the control plane's drain is still
// on its way. A slot reserves one of the jobs left before Acquire, so no
// more slots ask for a job at once than may still start; once the last
// one started the agent cordons itself. The zero value is unlimited.
type jobBudget struct {
	mu        sync.Mutex
	max       int    // 0 = unlimited
	reason    string // the cordon reason once max jobs started
	started   int    // jobs started so far
	acquiring int    // slots in Acquire holding a reservation
	changed   chan struct{}
}

// limit sets the cap and reports whether it is already reached.
func (b *jobBudget) limit(n int, reason string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.max, b.reason = n, reason
	b.broadcastLocked()
	return n > 0 && b.started >= n
}

// tryReserve takes one of the jobs left for a slot about to Acquire.
func (b *jobBudget) tryReserve() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.max > 0 && b.started+b.acquiring >= b.max {
		return false
	}
	b.acquiring++
	return true
}

// wait blocks until the budget changes (a reservation came back, the cap
// changed) or ctx ends.
func (b *jobBudget) wait(ctx context.Context) error {
	b.mu.Lock()
	if b.changed == nil {
		b.changed = make(chan struct{})
	}
	ch := b.changed
	b.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acquired returns a reservation: got counts a started job. It reports
// the cordon reason when that job was the last one allowed ("" otherwise).
func (b *jobBudget) acquired(got bool) (cordon string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.acquiring--
	if got {
		b.started++
	}
	b.broadcastLocked()
	if got && b.max > 0 && b.started >= b.max {
		return b.reason
	}
	return ""
}

func (b *jobBudget) broadcastLocked() {
	if b.changed != nil {
		close(b.changed)
	}
	b.changed = make(chan struct{})
}

// LimitJobs caps the jobs this node starts in its life at n (0 =
// unlimited): once n jobs started the agent stops acquiring and cordons
// itself with reason (the fleet client passes Draining, so the node
// drains and leaves as on the control plane's drain). It applies to the
// jobs already started: a node past n cordons at once.
func (a *Agent) LimitJobs(n int, reason string) {
	if a.jobs.limit(n, reason) {
		a.logger.Info("node ran the most jobs its pool allows: cordoning itself", "max_jobs", n, "reason", reason)
		a.Cordon(reason)
	}
}
