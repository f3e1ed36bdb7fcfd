// Package clock is the agent's one time source: the agent's slot loop and
// shutdown grace, the job sources (GitLab's client and job log, the GitHub
// scale-set listener), the fleet client and the periodic reaper take a
// Clock, so tests inject a fake one (or run the real one under
// testing/synctest) instead of sleeping.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the agent uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// Real is the wall clock.
type Real struct{}

// Now implements Clock.
func (Real) Now() time.Time { return time.Now() }

// NewTimer implements Clock.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// Or returns c, or the wall clock when c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

// Sleep waits d on c, or until ctx ends (returning its error).
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// AfterFunc calls f in its own goroutine once d has passed on c, unless
// stop is called first (stop reports whether it prevented the call).
func AfterFunc(c Clock, d time.Duration, f func()) (stop func() bool) {
	t := c.NewTimer(d)
	cancel := make(chan struct{})
	done := make(chan bool, 1)
	go func() {
		select {
		case <-t.C():
			done <- false
			f()
		case <-cancel:
			done <- true
		}
	}()
	var once sync.Once
	return func() bool {
		prevented := false
		once.Do(func() {
			close(cancel)
			t.Stop()
			prevented = <-done
		})
		return prevented
	}
}
