package scaleset

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	actions "github.com/actions/scaleset"

	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/scalesettest"
	"github.com/runfleet/runfleet/runner/journal"
)

// TestJournal: a scale-set runner is journaled from its JIT config until
// its registration is gone; a restarted agent's Recover removes, once, a
// registration a killed agent left, and keeps the record while the
// service counts the runner busy (until its job has ended).
func TestJournal(t *testing.T) {
	t.Parallel()
	fake := scalesettest.New(t, scalesettest.Options{Token: pat, PollTimeout: 20 * time.Millisecond})
	jr, err := journal.Open(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	pending := func() []journal.Entry {
		t.Helper()
		es, err := jr.Pending()
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	cfg := Config{Name: "fleet", Max: 4, Owner: "node-j"}

	// A job run to its end: recorded while it runs, forgotten after.
	fl := &holdLauncher{fake: fake, let: make(chan struct{})}
	h := newHarnessAgent(t, fake, cfg, fl, 2, func(o *Options) { o.Journal = jr })
	id := fake.QueueJob(scalesettest.Job{Labels: []string{"fleet"}})
	h.eventually("the job running", func() bool { _, _, _, took := fl.state(); return took == 1 })
	es, rs := pending(), fake.Runners()
	if len(es) != 1 || len(rs) != 1 {
		t.Fatalf("while the job runs the journal holds %+v and the service %+v, want its one runner", es, rs)
	}
	want := journal.Entry{Platform: journal.PlatformGitHubScaleSet, Runner: "fleet", JobID: strconv.Itoa(rs[0].ID),
		RunnerID: int64(rs[0].ID), Node: "node-j", EngineLabel: rs[0].Name, Started: es[0].Started}
	if es[0] != want || es[0].Started.IsZero() {
		t.Fatalf("journal record %+v, want %+v", es[0], want)
	}
	close(fl.let)
	h.eventually("the job done and its record gone", func() bool {
		j, _ := fake.Job(id)
		return j.State == scalesettest.JobCompleted && len(pending()) == 0
	})
	scaleSetID := h.l.ScaleSetID()
	h.stop()

	// Registrations a killed agent left: one idle, one that took a job.
	ctx := t.Context()
	api := h.api
	mint := func(name string) int64 {
		t.Helper()
		jit, err := api.GenerateJitRunnerConfig(ctx, &actions.RunnerScaleSetJitRunnerSetting{Name: name}, scaleSetID)
		if err != nil {
			t.Fatal(err)
		}
		return int64(jit.Runner.ID)
	}
	idle, busy := mint("node-j-left-idle"), mint("node-j-left-busy")
	jid := fake.QueueJob(scalesettest.Job{Labels: []string{"fleet"}})
	sess, err := api.MessageSessionClient(ctx, scaleSetID, "node-j-killed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.AcquireJobs(ctx, []int64{jid}); err != nil {
		t.Fatal(err)
	}
	if _, err := fake.TakeJob("node-j-left-busy"); err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(ctx); err != nil {
		t.Fatal(err)
	}
	killed, err := New(Options{Config: cfg, API: api, Journal: jr})
	if err != nil {
		t.Fatal(err)
	}
	killed.records().Record(killed.log, "node-j-left-idle", idle)
	killed.records().Record(killed.log, "node-j-left-busy", busy)

	// The restarted agent's listener recovers what the records name.
	restarted, err := New(Options{Config: cfg, API: api, Journal: jr})
	if err != nil {
		t.Fatal(err)
	}
	recoverAll := func() map[int64]error {
		out := map[int64]error{}
		for _, e := range pending() {
			out[e.RunnerID] = restarted.Recover(ctx, e)
		}
		return out
	}
	errs := recoverAll()
	if err, ok := errs[idle]; !ok || err != nil {
		t.Errorf("recovering the idle runner: %v (recovered %t)", err, ok)
	}
	if err := errs[busy]; !errors.Is(err, github.ErrRunnerBusy) {
		t.Errorf("recovering the busy runner: %v, want ErrRunnerBusy", err)
	}
	if es := pending(); len(es) != 1 || es[0].RunnerID != busy {
		t.Fatalf("after recovery the journal holds %+v, want only the busy runner", es)
	}
	for _, r := range fake.Runners() {
		if int64(r.ID) == idle {
			t.Errorf("the idle runner's registration is still there: %+v", r)
		}
	}
	// Tried again later: the busy runner goes once its job has ended.
	if err := fake.CompleteJob(jid, "failed"); err != nil {
		t.Fatal(err)
	}
	if errs := recoverAll(); len(errs) != 1 || errs[busy] != nil {
		t.Errorf("recovering again after the job ended: %v, want the busy runner recovered", errs)
	}
	if es := pending(); len(es) != 0 {
		t.Errorf("after the job ended the journal holds %+v", es)
	}
	deletes := map[string]int{}
	for _, r := range fake.Requests() {
		if r.Method == "DELETE" && strings.Contains(r.Path, "/agents/") {
			deletes[r.Path[strings.LastIndex(r.Path, "/")+1:]]++
		}
	}
	if n := deletes[strconv.FormatInt(idle, 10)]; n != 1 {
		t.Errorf("the idle runner's registration was removed %d times, want once", n)
	}
}
