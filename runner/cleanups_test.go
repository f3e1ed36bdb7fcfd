package runner

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/runfleet/runfleet/runner/config"
)

// queuedSource hands out the jobs queued on it, one per Acquire.
type queuedSource struct{ jobs chan Job }

func (s *queuedSource) Name() string { return "q" }
func (s *queuedSource) Limit() int   { return 0 }

func (s *queuedSource) Acquire(ctx context.Context, _ Slot) (Job, error) {
	select {
	case j := <-s.jobs:
		return j, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// cleaningJob is a Cleaner whose Run returns at once and whose Cleanup
// blocks until release is closed (or, unless ignoreCtx, its ctx ends).
type cleaningJob struct {
	id        string
	err       error // what Cleanup returns once released
	ignoreCtx bool

	started, cleaning, cleaned, release chan struct{}
	freeOnce                            sync.Once
}

func newCleaningJob(id string) *cleaningJob {
	return &cleaningJob{id: id, started: make(chan struct{}), cleaning: make(chan struct{}),
		cleaned: make(chan struct{}), release: make(chan struct{})}
}

func (j *cleaningJob) ID() string { return j.id }

// free lets Cleanup end; it may be called more than once.
func (j *cleaningJob) free() { j.freeOnce.Do(func() { close(j.release) }) }

func (j *cleaningJob) Run(context.Context) Outcome {
	close(j.started)
	return Outcome{State: StateSuccess}
}

func (j *cleaningJob) Cleanup(ctx context.Context) error {
	close(j.cleaning)
	defer close(j.cleaned)
	done := ctx.Done()
	if j.ignoreCtx {
		done = nil
	}
	select {
	case <-j.release:
		return j.err
	case <-done:
		return ctx.Err()
	}
}

// startingJob is a cleaningJob and a Starter: it is up once up is closed,
// and its Run returns once finish is closed.
type startingJob struct {
	*cleaningJob
	up, finish chan struct{}
}

func newStartingJob(id string) *startingJob {
	return &startingJob{cleaningJob: newCleaningJob(id), up: make(chan struct{}), finish: make(chan struct{})}
}

func (j *startingJob) Started() <-chan struct{} { return j.up }

func (j *startingJob) Run(ctx context.Context) Outcome {
	close(j.started)
	<-j.finish
	return Outcome{State: StateSuccess}
}

// syncBuffer is a log sink safe for the agent's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// cleanupRig is a running 1-slot agent fed by a queuedSource.
type cleanupRig struct {
	a       *Agent
	src     *queuedSource
	metrics *Metrics
	logs    *syncBuffer
	cancel  context.CancelFunc
	// stopped is closed once Run returned err.
	stopped chan struct{}
	err     error
}

func startCleanupRig(t *testing.T, cleanupTimeout time.Duration) *cleanupRig {
	t.Helper()
	return startCleanupRigHold(t, cleanupTimeout, config.DefaultCleanupStartHold)
}

// startCleanupRigHold is startCleanupRig with cleanups held at most
// startHold for the jobs starting.
func startCleanupRigHold(t *testing.T, cleanupTimeout, startHold time.Duration) *cleanupRig {
	t.Helper()
	r := &cleanupRig{src: &queuedSource{jobs: make(chan Job, 8)}, metrics: NewMetrics(prometheus.NewRegistry()),
		logs: &syncBuffer{}, stopped: make(chan struct{})}
	r.a = NewAgent(AgentOptions{Sources: []Source{r.src}, Concurrent: 1, ShutdownTimeout: time.Minute, Metrics: r.metrics,
		Logger: slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), CleanupTimeout: cleanupTimeout, CleanupStartHold: startHold})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		r.err = r.a.Run(ctx)
		close(r.stopped)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.stopped:
		case <-time.After(10 * time.Second):
			t.Error("Agent.Run did not return within 10 s of the test's end")
		}
	})
	return r
}

// cleaningGauge is runfleet_jobs_cleaning of the rig's source.
func (r *cleanupRig) cleaningGauge() float64 {
	return testutil.ToFloat64(r.metrics.cleaning.WithLabelValues("q"))
}

// closedWithin fails the test unless ch is closed within 5 s.
func closedWithin(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out after 5 s waiting for %s", what)
	}
}

// isClosed reports whether ch is closed now.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// staysOpen fails the test when ch is closed within d: what must not
// happen yet.
func staysOpen(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s", what)
	case <-time.After(d):
	}
}

// TestCleanupRunsOffTheSlot: a 1-slot agent starts its next job while
// the first job's Cleanup is still blocked; the cleanup is counted in
// Status and the gauge, not as busy, and both go back to zero.
func TestCleanupRunsOffTheSlot(t *testing.T) {
	r := startCleanupRig(t, time.Minute)
	first, second := newCleaningJob("1"), newCleaningJob("2")
	second.free()
	r.src.jobs <- first
	closedWithin(t, first.cleaning, "the first job's Cleanup to start")
	waitUntil(t, "Status to show the job cleaning, not busy", func() bool {
		st := r.a.Status()
		return st.Cleaning == 1 && st.Busy == 0
	})
	if g := r.cleaningGauge(); g != 1 {
		t.Errorf("runfleet_jobs_cleaning = %v during the cleanup, want 1", g)
	}
	r.src.jobs <- second
	closedWithin(t, second.started, "the second job to start on the slot the first job's cleanup freed")
	if isClosed(first.cleaned) {
		t.Fatal("the first job's Cleanup ended before it was released")
	}
	first.free()
	closedWithin(t, first.cleaned, "the first job's Cleanup to end once released")
	closedWithin(t, second.cleaned, "the second job's Cleanup to end")
	waitUntil(t, "runfleet_jobs_cleaning and Status.Cleaning back to 0", func() bool {
		return r.cleaningGauge() == 0 && r.a.Status().Cleaning == 0
	})
}

// TestCleanupBound: with as many cleanups in flight as slots, a job that
// ends keeps its slot until one ends, so the next job waits.
func TestCleanupBound(t *testing.T) {
	r := startCleanupRig(t, time.Minute)
	first, second, third := newCleaningJob("1"), newCleaningJob("2"), newCleaningJob("3")
	second.free()
	third.free()
	r.src.jobs <- first
	closedWithin(t, first.cleaning, "the first job's Cleanup to start")
	r.src.jobs <- second
	closedWithin(t, second.started, "the second job to start")
	r.src.jobs <- third
	staysOpen(t, third.started, 200*time.Millisecond, "the third job started while the bound of cleanups was reached")
	if isClosed(second.cleaning) {
		t.Fatal("the second job's Cleanup started over the bound")
	}
	first.free()
	closedWithin(t, second.cleaned, "the second job's Cleanup once the first ended")
	closedWithin(t, third.started, "the third job to start once the second job's cleanup started")
}

// TestStopWaitsForCleanups: however the agent stops (SIGTERM, a drain, its
// last job under max_jobs_per_node), Run returns only once the cleanup in
// flight ended, or at the cleanup timeout naming the job left.
func TestStopWaitsForCleanups(t *testing.T) {
	cases := []struct {
		name      string
		timeout   time.Duration
		ignoreCtx bool
		stop      func(*Agent)
		wantLog   string
	}{
		{name: "shutdown", timeout: time.Minute, stop: func(*Agent) {}},
		{name: "drain", timeout: time.Minute, stop: func(a *Agent) { a.Cordon("Draining") }},
		{name: "max jobs", timeout: time.Minute, stop: func(a *Agent) { a.LimitJobs(1, "Draining") }},
		{name: "cleanup past its timeout", timeout: 300 * time.Millisecond, ignoreCtx: true, stop: func(*Agent) {},
			wantLog: "job cleanups still running at the timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := startCleanupRig(t, tc.timeout)
			job := newCleaningJob("7")
			job.ignoreCtx = tc.ignoreCtx
			defer job.free()
			r.src.jobs <- job
			closedWithin(t, job.cleaning, "the job's Cleanup to start")
			// The node is idle but not done: the fleet client waits for
			// Cleaning to reach 0 too before it exits (runner/fleet).
			waitUntil(t, "Status to show the job cleaning, not busy", func() bool {
				st := r.a.Status()
				return st.Cleaning == 1 && st.Busy == 0
			})
			tc.stop(r.a)
			r.cancel()
			if tc.wantLog != "" {
				closedWithin(t, r.stopped, "Agent.Run to return at the cleanup timeout")
				if logs := r.logs.String(); !strings.Contains(logs, tc.wantLog) || !strings.Contains(logs, "q/7") {
					t.Errorf("log does not say %q naming q/7:\n%s", tc.wantLog, logs)
				}
				return
			}
			staysOpen(t, r.stopped, 200*time.Millisecond, "Agent.Run returned with a cleanup in flight")
			job.free()
			closedWithin(t, r.stopped, "Agent.Run to return once the cleanup ended")
			if r.err != nil {
				t.Fatal(r.err)
			}
			if !isClosed(job.cleaned) {
				t.Error("Run returned before the Cleanup did")
			}
		})
	}
}

// TestCleanupFailureCounted: a failed Cleanup is logged with its job and
// counted; one that ends by its timeout too.
func TestCleanupFailureCounted(t *testing.T) {
	cases := []struct {
		name    string
		timeout time.Duration
		err     error
	}{
		{name: "error", timeout: time.Minute, err: errors.New("network busy")},
		{name: "timeout", timeout: 100 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := startCleanupRig(t, tc.timeout)
			job := newCleaningJob("42")
			job.err = tc.err
			if tc.err != nil {
				job.free()
			}
			r.src.jobs <- job
			closedWithin(t, job.cleaned, "the job's Cleanup to end")
			waitUntil(t, "the failed cleanup counted and no longer in flight", func() bool {
				return testutil.ToFloat64(r.metrics.cleanupFails.WithLabelValues("q")) == 1 && r.cleaningGauge() == 0
			})
			logs := r.logs.String()
			if !strings.Contains(logs, "cleaning up after the job failed") || !strings.Contains(logs, "job=42") {
				t.Errorf("the failure is not logged with job=42:\n%s", logs)
			}
			if tc.err != nil && !strings.Contains(logs, tc.err.Error()) {
				t.Errorf("the log does not give the error %q:\n%s", tc.err, logs)
			}
		})
	}
}

// TestCleanupWaitsForStarts: a finished job's cleanup waits while the job
// that took its slot starts (Starter), so the two do not compete for the
// engine, and runs once that job is up, or at the hold's end when it never
// says so.
func TestCleanupWaitsForStarts(t *testing.T) {
	cases := []struct {
		name    string
		hold    time.Duration
		comesUp bool
	}{
		{name: "until the next job is up", hold: time.Minute, comesUp: true},
		{name: "at most the hold", hold: 500 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := startCleanupRigHold(t, time.Minute, tc.hold)
			first, second := newCleaningJob("1"), newStartingJob("2")
			first.free()
			second.free()
			defer close(second.finish)
			r.src.jobs <- first
			r.src.jobs <- second
			closedWithin(t, second.started, "the second job to start")
			if tc.comesUp {
				staysOpen(t, first.cleaning, time.Second, "the first job's cleanup ran while the second job was starting")
				close(second.up)
			}
			closedWithin(t, first.cleaned, "the first job's cleanup to run")
		})
	}
}

// TestAgentCleanupOptions: the cleanup bounds an agent runs with are its
// options ([cleanup] timeout and start_hold), config's defaults when unset.
func TestAgentCleanupOptions(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		timeout, hold         time.Duration
		wantTimeout, wantHold time.Duration
	}{
		{"unset", 0, 0, config.DefaultCleanupTimeout, config.DefaultCleanupStartHold},
		{"set", 30 * time.Second, 250 * time.Millisecond, 30 * time.Second, 250 * time.Millisecond},
		{"negative is unset", -time.Second, -time.Second, config.DefaultCleanupTimeout, config.DefaultCleanupStartHold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAgent(AgentOptions{Sources: []Source{&queuedSource{}}, CleanupTimeout: tc.timeout, CleanupStartHold: tc.hold})
			if a.cleanupTimeout != tc.wantTimeout || a.cleanups.startHold != tc.wantHold {
				t.Errorf("cleanup timeout %v, start hold %v; want %v, %v", a.cleanupTimeout, a.cleanups.startHold, tc.wantTimeout, tc.wantHold)
			}
		})
	}
}
