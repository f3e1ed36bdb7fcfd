package runner

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// idleSource plays GitHub runners that wait for a job that never comes:
// Acquire holds a warm runner until cancelled.
type idleSource struct {
	name    string
	limit   int
	standby bool
	waiting atomic.Int32
	ended   atomic.Int32 // Acquire calls cancelled (withdrawn runners)
}

func (s *idleSource) Name() string  { return s.name }
func (s *idleSource) Limit() int    { return s.limit }
func (s *idleSource) Standby() bool { return s.standby }

func (s *idleSource) Acquire(ctx context.Context, _ Slot) (Job, error) {
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	<-ctx.Done()
	s.ended.Add(1)
	return nil, ctx.Err()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recvWithin receives from ch or fails the test after 30 s, naming what
// it waited for.
func recvWithin[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out after 30s waiting for %s", what)
	}
	var zero T
	return zero
}

// TestSlotsNoStarvation: idle standby runners of one source fill every
// slot; a polling source that starts later still gets slots and runs all
// its jobs, never more than Concurrent jobs run at once, and the standby
// source is left with its fair share.
func TestSlotsNoStarvation(t *testing.T) {
	cases := []struct {
		name           string
		concurrent     int
		idleLimit      int
		pollLimit      int
		wantIdleAfter  int32 // warm runners the standby source keeps while the other polls
		standby        bool
		wantPollerJobs bool
	}{
		{"standby yields to a starving source", 3, 3, 3, 2, true, true},
		{"two slots: one each", 2, 2, 2, 1, true, true},
		{"a non-standby holder is never preempted", 2, 2, 1, 2, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var running, peak atomic.Int32
			idle := &idleSource{name: "github", limit: tc.idleLimit, standby: tc.standby}
			poll := &countingSource{name: "gitlab", limit: tc.pollLimit, left: 6, d: 10 * time.Millisecond, running: &running, peak: &peak}
			a := NewAgent(AgentOptions{Sources: []Source{idle}, Concurrent: tc.concurrent})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			for i := range tc.idleLimit {
				wg.Go(func() { a.slotLoop(ctx, ctx, ctx, idle, Slot{Source: idle.name, Index: i}) })
			}
			waitUntil(t, "the idle runners holding every slot", func() bool { return int(idle.waiting.Load()) == min(tc.idleLimit, tc.concurrent) })
			for i := range tc.pollLimit {
				wg.Go(func() { a.slotLoop(ctx, ctx, ctx, poll, Slot{Source: poll.name, Index: i}) })
			}
			if tc.wantPollerJobs {
				waitUntil(t, "the polling source's jobs done", func() bool {
					poll.mu.Lock()
					defer poll.mu.Unlock()
					return poll.left == 0 && running.Load() == 0
				})
				waitUntil(t, "the standby source back to its share", func() bool { return idle.waiting.Load() == tc.wantIdleAfter })
				if got := a.slots.holding(poll.name) + int(idle.waiting.Load()); got > tc.concurrent {
					t.Errorf("%d slots held, concurrent %d", got, tc.concurrent)
				}
			} else {
				time.Sleep(100 * time.Millisecond)
				poll.mu.Lock()
				left := poll.left
				poll.mu.Unlock()
				if left != 6 || idle.ended.Load() != 0 {
					t.Errorf("a non-standby source was preempted: %d jobs left, %d acquires cancelled", left, idle.ended.Load())
				}
			}
			if p := peak.Load(); p > int32(tc.concurrent) {
				t.Errorf("peak %d jobs, concurrent %d", p, tc.concurrent)
			}
			cancel()
			loops := make(chan struct{})
			go func() { wg.Wait(); close(loops) }()
			recvWithin(t, loops, "the slot loops to stop after the context ended")
		})
	}
}

// TestSlotsFairHandOff: a freed slot goes to the waiting source holding
// the fewest, and a polling slot yields only to a source holding at least
// two fewer.
func TestSlotsFairHandOff(t *testing.T) {
	s := newSlots(3)
	ctx := context.Background()
	a1, _ := s.take(ctx, "a", false)
	a2, _ := s.take(ctx, "a", false)
	b1, _ := s.take(ctx, "b", false)
	got := make(chan string, 2)
	for _, src := range []string{"a", "c"} {
		go func() {
			if _, err := s.take(ctx, src, false); err == nil {
				got <- src
			}
		}()
		waitUntil(t, "the waiter queued", func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return len(s.waiters) > 0 && s.waiters[len(s.waiters)-1].source == src
		})
	}
	if s.yield(b1) {
		t.Fatal("b (1 slot) yielded to c (0 slots)")
	}
	if !s.yield(a1) {
		t.Fatal("a (2 slots) did not yield to c (0 slots)")
	}
	if w := recvWithin(t, got, "the yielded slot to be taken"); w != "c" {
		t.Fatalf("the yielded slot went to %s, want c", w)
	}
	s.release(b1)
	if w := recvWithin(t, got, "the freed slot to be taken"); w != "a" {
		t.Fatalf("the freed slot went to %s, want a", w)
	}
	if s.holding("a") != 2 || s.holding("b") != 0 || s.holding("c") != 1 {
		t.Errorf("holding a=%d b=%d c=%d", s.holding("a"), s.holding("b"), s.holding("c"))
	}
	_ = a2
}

// TestPauseWithdrawsStandby: a node condition withdraws idle standby
// runners (they would take a job) and brings them back once it clears.
func TestPauseWithdrawsStandby(t *testing.T) {
	idle := &idleSource{name: "github", limit: 2, standby: true}
	a := NewAgent(AgentOptions{Sources: []Source{idle}, Concurrent: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitUntil(t, "two idle runners", func() bool { return idle.waiting.Load() == 2 })
	a.Pause("DiskPressure")
	waitUntil(t, "the idle runners withdrawn", func() bool { return idle.waiting.Load() == 0 && idle.ended.Load() == 2 })
	time.Sleep(50 * time.Millisecond)
	if n := idle.waiting.Load(); n != 0 {
		t.Fatalf("%d idle runners started on a paused node", n)
	}
	a.Resume("DiskPressure")
	waitUntil(t, "the idle runners back", func() bool { return idle.waiting.Load() == 2 })
	stopAgent(t, cancel, done)
}
