package runner

import (
	"context"
	"sync"
)

// Standby is implemented by sources whose Acquire waits with a warm
// runner that cancelling withdraws cheaply and safely (GitHub runners: the
// registration is deleted, or GitHub's refusal shows the runner took a job,
// which Acquire then returns). Their waiting slots may be preempted to
// give a slot to a source that has none.
type Standby interface {
	Standby() bool
}

// DemandWaiter is implemented by sources that know when they have work
// before a slot is spent on them (a scale set's assigned jobs): a slot
// of theirs waits in WaitDemand, holding no node slot, until it returns.
type DemandWaiter interface {
	WaitDemand(ctx context.Context) error
}

// slots hands out the node's concurrent slots fairly among sources. A
// slot is held from before Acquire until the job ends, so a job always
// has one. Freed slots go to the waiting source that holds the fewest; a
// source holding at least two more than a starving one gives one up: a
// polling slot yields after a poll without a job, a standby slot is
// preempted at once. So idle runners of one source never starve another
// (with at least as many slots as sources).
type slots struct {
	mu      sync.Mutex
	free    int
	held    map[string]int
	waiters []*slotWaiter
	// acquiring are the held slots now in Acquire, by holder.
	acquiring map[*slotHold]context.CancelFunc
}

// slotHold is one held slot.
type slotHold struct {
	source  string
	standby bool
}

type slotWaiter struct {
	source  string
	granted chan struct{}
}

func newSlots(n int) *slots {
	return &slots{free: n, held: map[string]int{}, acquiring: map[*slotHold]context.CancelFunc{}}
}

// take waits for a slot for source (or ctx).
func (s *slots) take(ctx context.Context, source string, standby bool) (*slotHold, error) {
	h := &slotHold{source: source, standby: standby}
	s.mu.Lock()
	if s.free > 0 {
		s.free--
		s.held[source]++
		s.mu.Unlock()
		return h, nil
	}
	w := &slotWaiter{source: source, granted: make(chan struct{})}
	s.waiters = append(s.waiters, w)
	s.preemptLocked(source)
	s.mu.Unlock()
	select {
	case <-w.granted:
		return h, nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-w.granted: // granted while giving up: hand it on
		s.releaseLocked(source)
	default:
		for i, x := range s.waiters {
			if x == w {
				s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
				break
			}
		}
	}
	return nil, ctx.Err()
}

// preemptLocked cancels the Acquire of one standby slot of the source
// holding the most slots, when it holds at least two more than source.
func (s *slots) preemptLocked(source string) {
	var victim *slotHold
	for h := range s.acquiring {
		if !h.standby || s.held[h.source] < s.held[source]+2 {
			continue
		}
		if victim == nil || s.held[h.source] > s.held[victim.source] {
			victim = h
		}
	}
	if victim != nil {
		s.acquiring[victim]()
		delete(s.acquiring, victim)
	}
}

// bestWaiterLocked is the index of the first waiter of the source holding
// the fewest slots, or -1.
func (s *slots) bestWaiterLocked() int {
	best := -1
	for i, w := range s.waiters {
		if best < 0 || s.held[w.source] < s.held[s.waiters[best].source] {
			best = i
		}
	}
	return best
}

func (s *slots) grantLocked(i int) {
	w := s.waiters[i]
	s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
	s.held[w.source]++
	close(w.granted)
}

func (s *slots) releaseLocked(source string) {
	s.held[source]--
	if i := s.bestWaiterLocked(); i >= 0 {
		s.grantLocked(i)
		return
	}
	s.free++
}

// release gives h's slot back.
func (s *slots) release(h *slotHold) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.acquiring, h)
	s.releaseLocked(h.source)
}

// yield hands h's slot to a waiting source that holds at least two
// fewer, reporting whether it did (h is then released).
func (s *slots) yield(h *slotHold) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.bestWaiterLocked()
	if i < 0 || s.held[s.waiters[i].source]+2 > s.held[h.source] {
		return false
	}
	delete(s.acquiring, h)
	s.held[h.source]--
	s.grantLocked(i)
	return true
}

// acquire marks h as waiting in Acquire, preemptible through cancel, and
// preempts it at once when a starving source already waits.
func (s *slots) acquire(h *slotHold, cancel context.CancelFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acquiring[h] = cancel
	if i := s.bestWaiterLocked(); i >= 0 {
		s.preemptLocked(s.waiters[i].source)
	}
}

// withdrawStandby cancels the Acquire of every standby slot (idle
// runners), e.g. when the node stops taking work for a while.
func (s *slots) withdrawStandby() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, cancel := range s.acquiring {
		if h.standby {
			cancel()
			delete(s.acquiring, h)
		}
	}
}

// acquired marks h as no longer in Acquire.
func (s *slots) acquired(h *slotHold) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.acquiring, h)
}

// holding reports the slots held by source.
func (s *slots) holding(source string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held[source]
}
