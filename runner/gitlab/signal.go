package gitlab

import "sync"

// signal is a channel closed once, however many times done is called.
type signal struct {
	once sync.Once
	c    chan struct{}
}

func newSignal() *signal { return &signal{c: make(chan struct{})} }

// done closes the channel (a nil *signal ignores it).
func (s *signal) done() {
	if s != nil {
		s.once.Do(func() { close(s.c) })
	}
}

// wait is the channel, or nil for a nil *signal (refill then waits for
// nothing).
func (s *signal) wait() <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.c
}
