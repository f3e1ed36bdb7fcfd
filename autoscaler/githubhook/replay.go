package githubhook

import (
	"container/list"
	"time"
)

// deliverySet remembers the X-GitHub-Delivery ids of verified deliveries
// for a window, so a captured delivery sent again is dropped. It is
// bounded both ways: ids older than the window are forgotten, and past
// max ids the oldest goes first. Not safe for concurrent use (the
// Receiver's mutex guards it).
type deliverySet struct {
	window time.Duration
	max    int
	seen   map[string]*list.Element // id → element of order
	order  *list.List               // of seenDelivery, oldest first
}

type seenDelivery struct {
	id string
	at time.Time
}

func newDeliverySet(window time.Duration, max int) *deliverySet {
	return &deliverySet{window: window, max: max, seen: map[string]*list.Element{}, order: list.New()}
}

// add records id at now and reports whether it was new (false: a replay
// within the window).
func (s *deliverySet) add(id string, now time.Time) bool {
	s.expire(now)
	if _, dup := s.seen[id]; dup {
		return false
	}
	s.seen[id] = s.order.PushBack(seenDelivery{id: id, at: now})
	for s.order.Len() > s.max {
		s.drop(s.order.Front())
	}
	return true
}

// expire forgets ids recorded before now - window.
func (s *deliverySet) expire(now time.Time) {
	cutoff := now.Add(-s.window)
	for e := s.order.Front(); e != nil && e.Value.(seenDelivery).at.Before(cutoff); e = s.order.Front() {
		s.drop(e)
	}
}

func (s *deliverySet) drop(e *list.Element) {
	delete(s.seen, e.Value.(seenDelivery).id)
	s.order.Remove(e)
}

func (s *deliverySet) len() int { return s.order.Len() }
