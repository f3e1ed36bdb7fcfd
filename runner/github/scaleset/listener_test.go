package scaleset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	actions "github.com/actions/scaleset"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/github/scalesettest"
)

const pat = "ghp_scalesetListenerTest000000000000"

func TestDesired(t *testing.T) {
	cases := []struct{ max, minIdle, assigned, want int }{
		{10, 0, 0, 0},
		{10, 2, 0, 2},
		{10, 2, 3, 5},
		{5, 1, 7, 5},
		{5, 5, 1, 5},
		{0, 0, 3, 0},
	}
	for _, c := range cases {
		if got := Desired(c.max, c.minIdle, c.assigned); got != c.want {
			t.Errorf("Desired(max %d, minIdle %d, assigned %d) = %d, want %d", c.max, c.minIdle, c.assigned, got, c.want)
		}
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{errors.New(`request POST http://x/sessions failed(status="409 Conflict"): unexpected status code`), ErrSessionConflict},
		{fmt.Errorf("wrapped: %w", errors.New(`request GET http://x failed(status="404 Not Found", activity_id="a"): nope`)), ErrScaleSetGone},
		{errors.New(`request GET http://x failed(status="500 Internal Server Error")`), nil},
		{errors.New("dial tcp: connection refused"), nil},
	}
	for _, c := range cases {
		got := classify(c.err)
		for _, sentinel := range []error{ErrSessionConflict, ErrScaleSetGone} {
			if errors.Is(got, sentinel) != (c.want == sentinel) {
				t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"ok", Config{Name: "fleet-1", Max: 3, Owner: "n"}, true},
		{"space in name", Config{Name: "my fleet", Max: 3, Owner: "n"}, false},
		{"empty name", Config{Max: 3, Owner: "n"}, false},
		{"no max", Config{Name: "f", Owner: "n"}, false},
		{"min idle above max", Config{Name: "f", Max: 1, MinIdle: 2, Owner: "n"}, false},
		{"no owner", Config{Name: "f", Max: 1}, false},
	}
	for _, c := range cases {
		if err := c.cfg.validate(); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	c := Config{Name: "Fleet", Labels: []string{"Linux", "self-hosted", "linux"}}
	if got := c.labels(); !slices.Equal(got, []string{"linux", "self-hosted"}) {
		t.Errorf("labels %v", got)
	}
}

// harness runs a Listener against the fake scale-set service.
type harness struct {
	t     *testing.T
	fake  *scalesettest.Server
	api   *actions.Client
	reg   *prometheus.Registry
	l     *Listener
	agent *runner.Agent // with a launcher: the agent whose source l is
	stop  func()
	err   chan error
}

func newAPI(t *testing.T, fake *scalesettest.Server) *actions.Client {
	t.Helper()
	c, err := actions.NewClientWithPersonalAccessToken(actions.NewClientWithPersonalAccessTokenConfig{
		GitHubConfigURL: fake.ConfigURL("acme"), PersonalAccessToken: pat,
	}, actions.WithRetryMax(1), actions.WithRetryWaitMax(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newHarness(t *testing.T, fake *scalesettest.Server, cfg Config, launcher Launcher, more ...func(*Options)) *harness {
	t.Helper()
	return newHarnessAgent(t, fake, cfg, launcher, 0, more...)
}

// newHarnessAgent runs the listener and, with a launcher, an agent of
// concurrent slots (default the scale set's slots) whose one source is
// the listener.
func newHarnessAgent(t *testing.T, fake *scalesettest.Server, cfg Config, launcher Launcher, concurrent int, more ...func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, fake: fake, api: newAPI(t, fake), reg: prometheus.NewRegistry(), err: make(chan error, 1)}
	if cfg.Owner == "" {
		cfg.Owner = "node-1"
	}
	cfg.ConflictWait, cfg.RetryWait = 5*time.Millisecond, 5*time.Millisecond
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o := Options{Config: cfg, API: h.api, Launcher: launcher, Registerer: h.reg, Logger: logger}
	for _, f := range more {
		f(&o)
	}
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.l = l
	ctx, cancel := context.WithCancel(context.Background())
	go func() { h.err <- l.Run(ctx) }()
	stopAgent := func() {}
	if launcher != nil {
		if concurrent == 0 {
			concurrent = l.Limit()
		}
		h.agent = runner.NewAgent(runner.AgentOptions{Sources: []runner.Source{l}, Concurrent: concurrent,
			ShutdownTimeout: 10 * time.Second, Logger: logger})
		actx, acancel := context.WithCancel(context.Background())
		adone := make(chan error, 1)
		go func() { adone <- h.agent.Run(actx) }()
		stopAgent = func() {
			acancel()
			select {
			case err := <-adone:
				if err != nil {
					t.Errorf("agent: %v", err)
				}
			case <-time.After(time.Minute):
				t.Error("timed out waiting for the agent to stop (its shutdown timeout is 10s)")
			}
		}
	}
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			stopAgent()
			cancel()
			select {
			case err := <-h.err:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run returned %v, want context.Canceled", err)
				}
			case <-time.After(time.Minute):
				t.Error("timed out waiting for the listener's Run to return after its context ended")
			}
		})
	}
	t.Cleanup(h.stop)
	return h
}

// eventually polls cond; the deadline only guards against a hang.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("never happened: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) sessionOwner() string {
	for _, ss := range h.fake.ScaleSets() {
		return ss.Session
	}
	return ""
}

func TestListenerDemand(t *testing.T) {
	cases := []struct {
		name         string
		minIdle, max int
		jobs         int
		wantDesired  int
		otherJobs    int // jobs for another scale set: never offered
		labels       []string
		jobLabels    []string
	}{
		{name: "assigned jobs plus idle", minIdle: 1, max: 10, jobs: 3, wantDesired: 4},
		{name: "capped at max", minIdle: 2, max: 5, jobs: 7, wantDesired: 5},
		{name: "idle only", minIdle: 2, max: 5, jobs: 0, wantDesired: 2},
		{name: "labels target the set", minIdle: 0, max: 8, jobs: 2, wantDesired: 2, otherJobs: 2,
			labels: []string{"self-hosted", "linux"}, jobLabels: []string{"self-hosted", "linux"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := scalesettest.New(t, scalesettest.Options{Token: pat, PollTimeout: 20 * time.Millisecond})
			h := newHarness(t, fake, Config{Name: "fleet", Labels: tc.labels, MinIdle: tc.minIdle, Max: tc.max}, nil)
			h.eventually("session opened", func() bool { return h.sessionOwner() == "node-1" })

			jobLabels := tc.jobLabels
			if jobLabels == nil {
				jobLabels = []string{"fleet"}
			}
			var ids []int64
			for range tc.jobs {
				ids = append(ids, fake.QueueJob(scalesettest.Job{Labels: jobLabels}))
			}
			for range tc.otherJobs {
				fake.QueueJob(scalesettest.Job{Labels: []string{"gpu"}})
			}
			h.eventually("desired reached", func() bool {
				st, ok := h.l.Statistics()
				return ok && st.TotalAssignedJobs == tc.jobs && h.l.Desired() == tc.wantDesired
			})
			if got := testutil.ToFloat64(h.l.metrics.desired); int(got) != tc.wantDesired {
				t.Errorf("desired gauge %v, want %d", got, tc.wantDesired)
			}

			// Acquire was called with exactly the offered ids.
			var requested []int64
			for _, c := range fake.AcquireCalls() {
				if c.ScaleSetID != h.l.ScaleSetID() {
					t.Errorf("acquire on scale set %d", c.ScaleSetID)
				}
				requested = append(requested, c.Requested...)
			}
			slices.Sort(requested)
			if !slices.Equal(requested, ids) {
				t.Errorf("acquired %v, want %v", requested, ids)
			}

			// Every message delivered was acknowledged.
			h.eventually("messages acknowledged", func() bool { return len(fake.Unacknowledged()) == 0 })
			if tc.jobs > 0 && len(fake.Acks()) < 2 {
				t.Errorf("acks %v: want the JobAvailable and JobAssigned batches acknowledged", fake.Acks())
			}

			q, err := h.l.Queued(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.jobs == 0 && len(q) != 0:
				t.Errorf("queued %+v, want none", q)
			case tc.jobs > 0 && (len(q) != 1 || q[0].Count != tc.jobs || !slices.Equal(q[0].Labels, h.l.labels)):
				t.Errorf("queued %+v, want %d under %v", q, tc.jobs, h.l.labels)
			}
		})
	}
}

func TestListenerSessionConflict(t *testing.T) {
	fake := scalesettest.New(t, scalesettest.Options{Token: pat, PollTimeout: 20 * time.Millisecond})
	// Another listener holds the scale set's session.
	api := newAPI(t, fake)
	ss, err := api.CreateRunnerScaleSet(context.Background(), &actions.RunnerScaleSet{Name: "fleet", RunnerGroupID: 1,
		Labels: []actions.Label{{Name: "fleet", Type: "System"}}})
	if err != nil {
		t.Fatal(err)
	}
	release, ok := fake.HoldSession(ss.ID, "old-node")
	if !ok {
		t.Fatal("hold session")
	}
	h := newHarness(t, fake, Config{Name: "fleet", Max: 4}, nil)
	h.eventually("conflicts counted", func() bool { return testutil.ToFloat64(h.l.metrics.conflicts) >= 2 })
	if h.sessionOwner() != "old-node" {
		t.Fatalf("session taken from its holder: %q", h.sessionOwner())
	}
	release()
	h.eventually("session taken over", func() bool { return h.sessionOwner() == "node-1" })
	if h.l.ScaleSetID() != ss.ID {
		t.Errorf("scale set %d re-created, want %d reused", h.l.ScaleSetID(), ss.ID)
	}
	fake.QueueJob(scalesettest.Job{Labels: []string{"fleet"}})
	h.eventually("demand after the conflict", func() bool { return h.l.Desired() == 1 })
	conflicts := 0
	for _, r := range fake.Requests() {
		if r.Status == 409 {
			conflicts++
		}
	}
	if conflicts < 2 {
		t.Errorf("%d 409 answers recorded", conflicts)
	}
}

func TestListenerScaleSetDeleted(t *testing.T) {
	fake := scalesettest.New(t, scalesettest.Options{Token: pat, PollTimeout: 20 * time.Millisecond})
	h := newHarness(t, fake, Config{Name: "fleet", Labels: []string{"fleet", "linux"}, Max: 4, MinIdle: 1}, nil)
	h.eventually("session opened", func() bool { return h.sessionOwner() == "node-1" })
	first := h.l.ScaleSetID()
	fake.QueueJob(scalesettest.Job{Labels: []string{"fleet"}})
	h.eventually("first job assigned", func() bool { return h.l.Desired() == 2 })

	// GitHub deletes the scale set: its assigned job goes back to the queue.
	fake.DeleteScaleSet(first)
	second := fake.QueueJob(scalesettest.Job{Labels: []string{"fleet"}})
	h.eventually("scale set re-created with a session", func() bool {
		id := h.l.ScaleSetID()
		return id != 0 && id != first && h.sessionOwner() == "node-1"
	})
	h.eventually("both jobs assigned to the new scale set", func() bool { return h.l.Desired() == 3 })
	sets := fake.ScaleSets()
	if len(sets) != 1 || !slices.Equal(sets[0].Labels, []string{"fleet", "linux"}) || sets[0].ID == first {
		t.Fatalf("scale sets %+v", sets)
	}
	if j, _ := fake.Job(second); j.State != scalesettest.JobAssigned || j.ScaleSetID != sets[0].ID {
		t.Errorf("job %+v", j)
	}
	if n := testutil.ToFloat64(h.l.metrics.recreated); n < 1 {
		t.Errorf("not-found counter %v", n)
	}
}

// fakeLauncher plays the official runner: it connects with its JIT
// config, takes the job GitHub assigns and completes it.
type fakeLauncher struct {
	t    *testing.T
	fake *scalesettest.Server

	mu   sync.Mutex
	ran  []int64
	seen []Runner
}

func (f *fakeLauncher) Run(ctx context.Context, r Runner) error {
	dec, err := scalesettest.DecodeJITConfig(r.EncodedJITConfig)
	if err != nil || dec.AgentName != r.Name || int64(dec.AgentID) != r.ID {
		f.t.Errorf("JIT config %+v for %+v: %v", dec, r, err)
		return err
	}
	f.mu.Lock()
	f.seen = append(f.seen, r)
	f.mu.Unlock()
	for {
		id, err := f.fake.TakeJob(r.Name)
		if err == nil {
			f.mu.Lock()
			f.ran = append(f.ran, id)
			f.mu.Unlock()
			return f.fake.CompleteJob(id, "succeeded")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (f *fakeLauncher) counts() (seen, ran int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen), len(f.ran)
}

func TestStandaloneLaunches(t *testing.T) {
	fake := scalesettest.New(t, scalesettest.Options{Token: pat, PollTimeout: 20 * time.Millisecond})
	fl := &fakeLauncher{t: t, fake: fake}
	h := newHarness(t, fake, Config{Name: "fleet", Max: 10, MinIdle: 1, Slots: 3, Owner: "node-7"}, fl)
	h.eventually("idle runner launched", func() bool { s, _ := fl.counts(); return s == 1 })

	var ids []int64
	for range 5 {
		ids = append(ids, fake.QueueJob(scalesettest.Job{Labels: []string{"fleet"}}))
	}
	h.eventually("all jobs ran", func() bool {
		for _, id := range ids {
			if j, _ := fake.Job(id); j.State != scalesettest.JobCompleted {
				return false
			}
		}
		return true
	})
	// Never more runners than slots at once, all named after the node.
	fl.mu.Lock()
	seen := slices.Clone(fl.seen)
	fl.mu.Unlock()
	for _, r := range seen {
		if r.Slot < 0 || r.Slot >= 3 || len(r.Name) < 8 || r.Name[:7] != "node-7-" {
			t.Errorf("runner %+v", r)
		}
	}
	h.eventually("idle runner back", func() bool { return len(fake.Runners()) == 1 })
	h.eventually("all completions processed", func() bool {
		return testutil.ToFloat64(h.l.metrics.completed.WithLabelValues("succeeded")) == 5
	})
	// Shutdown removes the idle runner's registration.
	h.stop()
	if rs := fake.Runners(); len(rs) != 0 {
		t.Errorf("registrations left after shutdown: %+v", rs)
	}
	if n := testutil.ToFloat64(h.l.metrics.started); n != 5 {
		t.Errorf("jobs started %v, want 5", n)
	}
	for _, name := range []string{"runfleet_github_scaleset_job_queue_seconds", "runfleet_github_scaleset_job_startup_seconds", "runfleet_github_scaleset_job_run_seconds"} {
		if n := histogramCount(t, h.reg, name); n != 5 {
			t.Errorf("%s observed %d times, want 5", name, n)
		}
	}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}
