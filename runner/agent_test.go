package runner

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingSource hands out n jobs that each run for d, recording the peak
// number of jobs running at once across all sources sharing peak.
type countingSource struct {
	name    string
	limit   int
	mu      sync.Mutex
	left    int
	d       time.Duration
	running *atomic.Int32
	peak    *atomic.Int32
	mine    atomic.Int32
	minePk  atomic.Int32
	aborted atomic.Int32
}

func (s *countingSource) Name() string { return s.name }
func (s *countingSource) Limit() int   { return s.limit }

func (s *countingSource) Acquire(ctx context.Context, _ Slot) (Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.left == 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
			return nil, ErrNoJob
		}
	}
	s.left--
	return fakeJob{s}, nil
}

type fakeJob struct{ s *countingSource }

func (j fakeJob) ID() string { return j.s.name }

func (j fakeJob) Run(ctx context.Context) Outcome {
	s := j.s
	n := s.running.Add(1)
	m := s.mine.Add(1)
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	for p := s.minePk.Load(); m > p && !s.minePk.CompareAndSwap(p, m); p = s.minePk.Load() {
	}
	defer s.running.Add(-1)
	defer s.mine.Add(-1)
	select {
	case <-time.After(s.d):
		return Outcome{State: "success"}
	case <-ctx.Done():
		s.aborted.Add(1)
		return Outcome{State: "failed", FailureReason: "runner_system_failure"}
	}
}

func TestAgentLimits(t *testing.T) {
	tests := []struct {
		name       string
		concurrent int
		limits     []int
		wantPeak   int32
		wantPerSrc []int32
	}{
		{"global bound", 3, []int{0, 0}, 3, []int32{3, 3}},
		{"per-runner limit", 4, []int{1, 2}, 3, []int32{1, 2}},
		{"one slot", 1, []int{5}, 1, []int32{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var running, peak atomic.Int32
			var srcs []Source
			var cs []*countingSource
			for i, l := range tt.limits {
				c := &countingSource{name: string(rune('a' + i)), limit: l, left: 8, d: 30 * time.Millisecond, running: &running, peak: &peak}
				cs = append(cs, c)
				srcs = append(srcs, c)
			}
			ctx, cancel := context.WithCancel(context.Background())
			a := NewAgent(AgentOptions{Sources: srcs, Concurrent: tt.concurrent, ShutdownTimeout: time.Second})
			done := make(chan error)
			go func() { done <- a.Run(ctx) }()
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				left := 0
				for _, c := range cs {
					c.mu.Lock()
					left += c.left
					c.mu.Unlock()
				}
				if left == 0 && running.Load() == 0 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			if err := recvWithin(t, done, "Agent.Run to return after its context ended"); err != nil {
				t.Fatal(err)
			}
			if got := peak.Load(); got > tt.wantPeak {
				t.Errorf("peak = %d, want <= %d", got, tt.wantPeak)
			}
			for i, c := range cs {
				if got := c.minePk.Load(); got > tt.wantPerSrc[i] {
					t.Errorf("source %s peak = %d, want <= %d", c.name, got, tt.wantPerSrc[i])
				}
			}
		})
	}
}

func TestAgentShutdownAbortsAfterTimeout(t *testing.T) {
	var running, peak atomic.Int32
	src := &countingSource{name: "a", left: 1, d: time.Hour, running: &running, peak: &peak}
	ctx, cancel := context.WithCancel(context.Background())
	a := NewAgent(AgentOptions{Sources: []Source{src}, Concurrent: 1, ShutdownTimeout: 50 * time.Millisecond})
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	for running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("agent did not return after the shutdown timeout")
	}
	if src.aborted.Load() != 1 {
		t.Errorf("aborted = %d, want 1", src.aborted.Load())
	}
}

func TestAgentNeedsSources(t *testing.T) {
	if err := NewAgent(AgentOptions{}).Run(context.Background()); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestAgentCordonAndAbortAt(t *testing.T) {
	var running, peak atomic.Int32
	src := &countingSource{name: "a", left: 3, d: time.Hour, running: &running, peak: &peak}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := NewAgent(AgentOptions{Sources: []Source{src}, Concurrent: 1, ShutdownTimeout: time.Minute})
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	for running.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	a.Cordon("Interrupted")
	a.AbortJobsAt(time.Now().Add(50 * time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for src.aborted.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if src.aborted.Load() != 1 {
		t.Fatalf("the running job was not aborted at the deadline (aborted %d, running %d)", src.aborted.Load(), running.Load())
	}
	// Cordoned: the two jobs left are never taken.
	time.Sleep(100 * time.Millisecond)
	src.mu.Lock()
	left := src.left
	src.mu.Unlock()
	if left != 2 || running.Load() != 0 {
		t.Errorf("cordoned agent took jobs: left %d running %d", left, running.Load())
	}
	cancel()
	if err := recvWithin(t, done, "Agent.Run to return after its context ended"); err != nil {
		t.Fatal(err)
	}
}

func TestAgentPauseResume(t *testing.T) {
	var running, peak atomic.Int32
	src := &countingSource{name: "a", left: 2, d: 10 * time.Millisecond, running: &running, peak: &peak}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := NewAgent(AgentOptions{Sources: []Source{src}, Concurrent: 1, ShutdownTimeout: time.Minute})
	a.Pause("DiskPressure")
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	src.mu.Lock()
	left := src.left
	src.mu.Unlock()
	if left != 2 {
		t.Fatalf("a paused agent took %d jobs", 2-left)
	}
	a.Resume("DiskPressure")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		src.mu.Lock()
		left = src.left
		src.mu.Unlock()
		if left == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if left != 0 {
		t.Errorf("after Resume %d jobs were still left", left)
	}
	cancel()
	if err := recvWithin(t, done, "Agent.Run to return after its context ended"); err != nil {
		t.Fatal(err)
	}
}

func TestAgentRefusesDuplicateNames(t *testing.T) {
	a := NewAgent(AgentOptions{Sources: []Source{&idleSource{name: "x", limit: 1}, &idleSource{name: "x", limit: 1}}})
	if err := a.Run(context.Background()); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("err = %v, want a duplicate-name error", err)
	}
}
