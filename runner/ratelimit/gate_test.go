package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/clock"
)

// fakeClock moves only when told; its timers fire on Advance.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	added   chan struct{} // receives when a waiter is added
}

type fakeWaiter struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), added: make(chan struct{}, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return fakeTimer{ch}
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), c: ch})
	c.added <- struct{}{}
	return fakeTimer{ch}
}

// fakeTimer fires when the clock is advanced past it; Stop and Reset are
// not needed by the gate beyond Stop's release.
type fakeTimer struct{ c chan time.Time }

func (t fakeTimer) C() <-chan time.Time      { return t.c }
func (t fakeTimer) Stop() bool               { return true }
func (t fakeTimer) Reset(time.Duration) bool { panic("fakeTimer: Reset is not used by the gate") }

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.c <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

// waitBlocked waits until a Wait call sleeps on the clock.
func (c *fakeClock) waitBlocked(t *testing.T) {
	t.Helper()
	select {
	case <-c.added:
	case <-time.After(5 * time.Second):
		t.Fatal("timed out after 5s waiting for a Wait call to block on the clock")
	}
}

func TestGateWait(t *testing.T) {
	t.Parallel()
	type pause struct {
		key string
		in  time.Duration // from the start
	}
	tests := []struct {
		name    string
		pauses  []pause
		key     string
		release time.Duration // when Wait must return (0: at once)
	}{
		{name: "no pause", key: "gitlab:a"},
		{name: "paused key waits", pauses: []pause{{"gitlab:a", time.Second}}, key: "gitlab:a", release: time.Second},
		{name: "other key is free", pauses: []pause{{"gitlab:a", time.Second}}, key: "gitlab:b"},
		{name: "a shorter pause does not shrink", pauses: []pause{{"gitlab:a", 3 * time.Second}, {"gitlab:a", time.Second}}, key: "gitlab:a", release: 3 * time.Second},
		{name: "a longer pause extends", pauses: []pause{{"gitlab:a", time.Second}, {"gitlab:a", 2500 * time.Millisecond}}, key: "gitlab:a", release: 2500 * time.Millisecond},
		{name: "ungated key", pauses: []pause{{"gitlab:a", time.Second}}, key: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			g := New(Options{Clock: clk})
			start := clk.Now()
			for _, p := range tc.pauses {
				g.Pause(p.key, start.Add(p.in), "test")
			}
			done := make(chan time.Time, 1)
			go func() {
				if err := g.Wait(context.Background(), tc.key); err != nil {
					t.Errorf("Wait: %v", err)
				}
				done <- clk.Now()
			}()
			if tc.release == 0 {
				select {
				case at := <-done:
					if !at.Equal(start) {
						t.Errorf("released at +%s, want at once", at.Sub(start))
					}
				case <-time.After(5 * time.Second):
					t.Fatal("timed out after 5s waiting for an unpaused Wait to return")
				}
				return
			}
			clk.waitBlocked(t)
			clk.Advance(tc.release - time.Millisecond)
			time.Sleep(20 * time.Millisecond) // let an early release show
			select {
			case at := <-done:
				t.Fatalf("released at +%s, before the pause ended at +%s", at.Sub(start), tc.release)
			default:
			}
			clk.Advance(time.Millisecond)
			select {
			case at := <-done:
				if got := at.Sub(start); got < tc.release {
					t.Errorf("released at +%s, want ≥ +%s", got, tc.release)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("timed out after 5s waiting for Wait to return at +%s", tc.release)
			}
		})
	}
}

func TestGateWaitExtendedWhileWaiting(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	g := New(Options{Clock: clk})
	start := clk.Now()
	g.Pause("k", start.Add(time.Second), "first")
	done := make(chan time.Time, 1)
	go func() { _ = g.Wait(context.Background(), "k"); done <- clk.Now() }()
	clk.waitBlocked(t)
	g.Pause("k", start.Add(3*time.Second), "second")
	clk.Advance(time.Second)
	clk.waitBlocked(t) // woke, saw the longer pause, sleeps again
	select {
	case at := <-done:
		t.Fatalf("released at +%s despite a pause to +3s", at.Sub(start))
	default:
	}
	clk.Advance(2 * time.Second)
	select {
	case at := <-done:
		if at.Sub(start) != 3*time.Second {
			t.Errorf("released at +%s, want +3s", at.Sub(start))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timed out after 5s waiting for the extended pause to end")
	}
}

func TestGateWaitContext(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	g := New(Options{Clock: clk})
	g.Pause("k", clk.Now().Add(time.Hour), "test")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- g.Wait(ctx, "k") }()
	clk.waitBlocked(t)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Wait after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timed out after 5s waiting for Wait to see its context end")
	}
}

func TestKeyHidesSecret(t *testing.T) {
	t.Parallel()
	k := Key("gitlab", "glrt-secret-token")
	if k == Key("gitlab", "glrt-other-token") || k != Key("gitlab", "glrt-secret-token") {
		t.Fatalf("keys not distinct or not stable: %q", k)
	}
	if len(k) != len("gitlab:")+16 || k[:7] != "gitlab:" {
		t.Errorf("key %q: want gitlab: and 16 hex digits", k)
	}
}
