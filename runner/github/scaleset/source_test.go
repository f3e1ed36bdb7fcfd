package scaleset

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/github/scalesettest"
)

// holdLauncher plays a runner that takes a job and holds it until let
// is closed; it records how many of its runners ran at once.
type holdLauncher struct {
	fake *scalesettest.Server
	let  chan struct{}

	mu            sync.Mutex
	seen, running int
	maxRunning    int
	took          []int64
}

func (f *holdLauncher) Run(ctx context.Context, r Runner) error {
	f.mu.Lock()
	f.seen++
	f.running++
	f.maxRunning = max(f.maxRunning, f.running)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running--
		f.mu.Unlock()
	}()
	for {
		if id, err := f.fake.TakeJob(r.Name); err == nil {
			f.mu.Lock()
			f.took = append(f.took, id)
			f.mu.Unlock()
			select {
			case <-f.let: // a running job finishes even on a cordoned node
			case <-ctx.Done():
				return ctx.Err()
			}
			return f.fake.CompleteJob(id, "succeeded")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (f *holdLauncher) state() (seen, running, maxRunning, took int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen, f.running, f.maxRunning, len(f.took)
}

// TestAgentSlotsAndCordon: scale-set runners run in the agent's slot
// loop: they take its concurrent slots (2 here, though the scale set
// wants 4 and may have 5 on this node), count as busy exactly while they
// run a job (the idle runner does not), and once the agent is cordoned no
// new runner starts and the idle one is withdrawn while the running jobs
// finish.
func TestAgentSlotsAndCordon(t *testing.T) {
	fake := scalesettest.New(t, scalesettest.Options{Token: pat, PollTimeout: 20 * time.Millisecond})
	fl := &holdLauncher{fake: fake, let: make(chan struct{})}
	h := newHarnessAgent(t, fake, Config{Name: "fleet", Max: 10, MinIdle: 1, Slots: 5, Owner: "node-g"}, fl, 2)
	h.eventually("the idle runner", func() bool { s, _, _, _ := fl.state(); return s == 1 })
	if st := h.agent.Status(); st.Busy != 0 {
		t.Fatalf("an idle runner counts as busy: %+v", st)
	}
	var ids []int64
	for range 3 {
		ids = append(ids, fake.QueueJob(scalesettest.Job{Labels: []string{"fleet"}}))
	}
	h.eventually("two jobs running on the agent's two slots", func() bool {
		_, _, _, took := fl.state()
		return took == 2 && h.agent.Status().Busy == 2
	})
	h.agent.Cordon("Interrupted")
	seenAtCordon, _, _, _ := fl.state()
	if st := h.agent.Status(); st.Busy != 2 || len(st.Running) != 2 {
		t.Errorf("cordoned node with two scale-set jobs reports %+v", st)
	}
	close(fl.let)
	h.eventually("the running jobs finished and their runners exited", func() bool {
		done := 0
		for _, id := range ids {
			if j, _ := fake.Job(id); j.State == scalesettest.JobCompleted {
				done++
			}
		}
		_, running, _, _ := fl.state()
		h.l.mu.Lock()
		n := len(h.l.runners)
		h.l.mu.Unlock()
		return done == 2 && running == 0 && n == 0 && h.agent.Status().Busy == 0
	})
	seen, _, maxRunning, took := fl.state()
	if maxRunning > 2 {
		t.Errorf("%d scale-set runners ran at once on an agent with 2 slots", maxRunning)
	}
	if seen != seenAtCordon || took != 2 {
		t.Errorf("after the cordon: %d runners launched (had %d), %d jobs taken, want no new runner", seen, seenAtCordon, took)
	}
	if j, _ := fake.Job(ids[2]); j.State == scalesettest.JobCompleted {
		t.Errorf("the third job ran on a cordoned node: %+v", j)
	}
	if rs := fake.Runners(); len(rs) != 0 {
		t.Errorf("registrations left on the cordoned node: %+v", rs)
	}
}

// TestShutdownGrace: a scale-set job running when the agent stops runs
// to its end within the shutdown timeout; the agent returns only then.
func TestShutdownGrace(t *testing.T) {
	fake := scalesettest.New(t, scalesettest.Options{Token: pat, PollTimeout: 20 * time.Millisecond})
	fl := &holdLauncher{fake: fake, let: make(chan struct{})}
	h := newHarnessAgent(t, fake, Config{Name: "fleet", Max: 4, Slots: 2, Owner: "node-s"}, fl, 2)
	id := fake.QueueJob(scalesettest.Job{Labels: []string{"fleet"}})
	h.eventually("the job running", func() bool { return h.agent.Status().Busy == 1 })
	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("the agent stopped while a scale-set job was running")
	case <-time.After(200 * time.Millisecond):
	}
	close(fl.let)
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not stop after its last job ended")
	}
	if j, _ := fake.Job(id); j.State != scalesettest.JobCompleted || j.Result != "succeeded" {
		t.Errorf("job %+v, want it completed during the shutdown grace", j)
	}
}

// countingBudget counts JIT minting permits.
type countingBudget struct {
	mu sync.Mutex
	n  int
}

func (b *countingBudget) Wait(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	return ctx.Err()
}

// TestMintBudget: every JIT config the listener generates draws on the
// shared minting budget first.
func TestMintBudget(t *testing.T) {
	fake := scalesettest.New(t, scalesettest.Options{Token: pat, PollTimeout: 20 * time.Millisecond})
	fl := &fakeLauncher{t: t, fake: fake}
	b := &countingBudget{}
	h := newHarness(t, fake, Config{Name: "fleet", Max: 10, MinIdle: 2, Slots: 3, Owner: "node-b"}, fl,
		func(o *Options) { o.MintBudget = b })
	h.eventually("two idle runners", func() bool { s, _ := fl.counts(); return s == 2 })
	h.stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := len(fake.JITConfigs()); b.n != n || n < 2 {
		t.Errorf("%d budget permits for %d JIT configs", b.n, n)
	}
}

func TestResultOutcome(t *testing.T) {
	for _, tc := range []struct {
		result string
		want   runner.Outcome
	}{
		{"succeeded", runner.Outcome{State: runner.StateSuccess}},
		{"SucceededWithIssues", runner.Outcome{State: runner.StateSuccess}},
		{"failed", runner.Outcome{State: runner.StateFailed, FailureReason: runner.FailureScript}},
		{"canceled", runner.Outcome{State: runner.StateCanceled}},
		{"abandoned", runner.Outcome{State: runner.StateCanceled}},
		{"weird", runner.Outcome{State: runner.StateFailed, FailureReason: runner.FailureUnknown}},
	} {
		if got := resultOutcome(tc.result); got != tc.want {
			t.Errorf("resultOutcome(%q) = %+v, want %+v", tc.result, got, tc.want)
		}
	}
}
