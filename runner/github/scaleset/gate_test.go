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
			<-f.let // a running job finishes even on a cordoned node
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

// TestGateSharesSlotsAndCordon: scale-set runners take the agent's
// concurrent slots (2 here, though the scale set wants 4 and may have 5
// on this node); once the agent is cordoned no new runner starts, while
// the running jobs finish.
func TestGateSharesSlotsAndCordon(t *testing.T) {
	fake := scalesettest.New(t, scalesettest.Options{Token: pat, PollTimeout: 20 * time.Millisecond})
	agent := runner.NewAgent(runner.AgentOptions{Concurrent: 2})
	fl := &holdLauncher{fake: fake, let: make(chan struct{})}
	h := newHarnessGate(t, fake, Config{Name: "fleet", Max: 10, MinIdle: 1, Slots: 5, Owner: "node-g"}, fl, agent)
	h.eventually("the idle runner", func() bool { s, _, _, _ := fl.state(); return s == 1 })
	var ids []int64
	for range 3 {
		ids = append(ids, fake.QueueJob(scalesettest.Job{Labels: []string{"fleet"}}))
	}
	h.eventually("two jobs running on the agent's two slots", func() bool { _, _, _, took := fl.state(); return took == 2 })
	if _, ok := agent.TrySlot(); ok {
		t.Fatal("the agent has a free slot while two scale-set runners run")
	}
	agent.Cordon("Interrupted")
	seenAtCordon, _, _, _ := fl.state()
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
		return done == 2 && running == 0 && n == 0
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
	h := newHarnessGate(t, fake, Config{Name: "fleet", Max: 10, MinIdle: 2, Slots: 3, Owner: "node-b"}, fl, nil,
		func(o *Options) { o.MintBudget = b })
	h.eventually("two idle runners", func() bool { s, _ := fl.counts(); return s == 2 })
	h.stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := len(fake.JITConfigs()); b.n != n || n < 2 {
		t.Errorf("%d budget permits for %d JIT configs", b.n, n)
	}
}
