package runner

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/clock"
)

// frozenClock is a clock whose time stands still: its timers never fire,
// so nothing in the agent waits on wall time (the shutdown timeout never
// aborts a job; jobs here end on their own).
type frozenClock struct{ now time.Time }

func (c frozenClock) Now() time.Time                     { return c.now }
func (c frozenClock) NewTimer(time.Duration) clock.Timer { return frozenTimer{} }

type frozenTimer struct{}

func (frozenTimer) C() <-chan time.Time      { return nil }
func (frozenTimer) Stop() bool               { return true }
func (frozenTimer) Reset(time.Duration) bool { return true }

// queueSource hands out its queued jobs to every slot that asks (the jobs
// are all there before the first heartbeat), each after a request's
// round trip that lets the other slots' requests arrive meanwhile, then
// long-polls.
type queueSource struct {
	mu       sync.Mutex
	queued   int
	acquired int
	finished int
}

func (s *queueSource) Name() string { return "queue" }
func (s *queueSource) Limit() int   { return 0 }

func (s *queueSource) Acquire(ctx context.Context, _ Slot) (Job, error) {
	select { // the round trip
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(20 * time.Millisecond):
	}
	s.mu.Lock()
	if s.queued > 0 {
		s.queued--
		s.acquired++
		n := s.acquired
		s.mu.Unlock()
		return quickJob{s: s, id: "job-" + strconv.Itoa(n)}, nil
	}
	s.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s *queueSource) counts() (queued, acquired, finished int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queued, s.acquired, s.finished
}

// quickJob ends at once: shorter than any heartbeat.
type quickJob struct {
	s  *queueSource
	id string
}

func (j quickJob) ID() string { return j.id }

func (j quickJob) Run(context.Context) Outcome {
	j.s.mu.Lock()
	j.s.finished++
	j.s.mu.Unlock()
	return Outcome{State: StateSuccess}
}

// TestAgentMaxJobs: with a cap on the jobs a node starts (a single-use
// pool's max_jobs_per_node), the agent acquires no more than the cap even
// with jobs queued for every slot, and reports itself draining once the
// last one started; without a cap it takes them all.
func TestAgentMaxJobs(t *testing.T) {
	tests := []struct {
		name         string
		max          int
		queued       int
		wantAcquired int
		wantDraining bool
	}{
		{"single-use", 1, 2, 1, true},
		{"two jobs per node", 2, 4, 2, true},
		{"no cap", 0, 3, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &queueSource{queued: tt.queued}
			a := NewAgent(AgentOptions{Sources: []Source{src}, Concurrent: 4, ShutdownTimeout: time.Minute,
				Clock: frozenClock{now: time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)}})
			a.LimitJobs(tt.max, "Draining")
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			waitUntil(t, "the jobs run and the node's draining condition", func() bool {
				_, acquired, finished := src.counts()
				draining := slices.Contains(a.Status().Conditions, "Draining")
				return acquired >= tt.wantAcquired && finished >= tt.wantAcquired && draining == tt.wantDraining
			})
			if tt.wantDraining {
				// Cordoned: every slot stops; Run waits for its context.
				select {
				case err := <-done:
					t.Fatalf("Run returned while cordoned: %v", err)
				case <-time.After(50 * time.Millisecond):
				}
			}
			stopAgent(t, cancel, done)
			queued, acquired, _ := src.counts()
			if acquired != tt.wantAcquired || queued != tt.queued-tt.wantAcquired {
				t.Errorf("%d jobs acquired, %d left queued; want %d acquired", acquired, queued, tt.wantAcquired)
			}
			if st := a.Status(); slices.Contains(st.Conditions, "Draining") != tt.wantDraining || st.Busy != 0 {
				t.Errorf("status %+v, want draining %v and idle", st, tt.wantDraining)
			}
		})
	}
}

// TestAgentMaxJobsLearntLate: a cap learnt after the node already ran
// that many jobs (registration came late) cordons it at once.
func TestAgentMaxJobsLearntLate(t *testing.T) {
	src := &queueSource{queued: 1}
	a := NewAgent(AgentOptions{Sources: []Source{src}, Concurrent: 1, ShutdownTimeout: time.Minute,
		Clock: frozenClock{now: time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitUntil(t, "the first job", func() bool { _, _, finished := src.counts(); return finished == 1 })
	if slices.Contains(a.Status().Conditions, "Draining") {
		t.Fatal("draining before any cap was set")
	}
	a.LimitJobs(1, "Draining")
	if !slices.Contains(a.Status().Conditions, "Draining") {
		t.Errorf("conditions %v after a cap of 1 with one job run, want Draining", a.Status().Conditions)
	}
	stopAgent(t, cancel, done)
}

// stopAgent ends the agent's Run and waits for it.
func stopAgent(t *testing.T, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waited 10 s for Run to return after its context ended")
	}
}
