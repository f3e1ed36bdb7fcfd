package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	actions "github.com/actions/scaleset"

	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/scalesettest"
	"github.com/runfleet/runfleet/runner/ratelimit"
)

const scaleSetPAT = "ghp_cpScaleSet00000000000000000000000"

// TestGitHubScaleSetThroughTheFleet: the control plane holds scale set
// "big"'s message session with [github_jit]'s credentials on the strict
// fake scale-set service; the job GitHub assigns to the scale set is the
// pool's demand; the node, with no credential, gets scale-set JIT configs
// for its own slots only, sees its runner busy once the session reports
// JobStarted, and reads the job's result from the session's JobCompleted.
func TestGitHubScaleSetThroughTheFleet(t *testing.T) {
	fake := scalesettest.New(t, scalesettest.Options{Token: scaleSetPAT, PollTimeout: 300 * time.Millisecond})
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(scaleSetPAT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pools := []policy.Pool{{Name: "linux", Labels: []string{"self-hosted", "linux", "big"}, SlotsPerNode: 2, MinNodes: 1, MaxNodes: 1,
		ScaleDownDelay: time.Hour, Offerings: []policy.Offering{{InstanceType: "container", Zone: "local"}}}}
	cfg, err := githubJITConfig(githubJITFile{URL: fake.ConfigURL("acme"), TokenFile: tokFile,
		ScaleSets: map[string]githubJITScaleSetFile{"big": {Pool: "linux"}}}, pools)
	if err != nil {
		t.Fatal(err)
	}
	f := &jitFleet{}
	f.serve(t, cfg, pools, "big")
	api := f.api
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(f.demand) != 1 {
		t.Fatalf("%d demand sources, want the scale set's", len(f.demand))
	}
	queued := func() int {
		qs, err := f.demand[0].Queued(ctx)
		if err != nil {
			return -1 // no statistics yet
		}
		n := 0
		for _, q := range qs {
			if !slices.Equal(q.Labels, []string{"big"}) {
				t.Fatalf("queued under %v, want the scale set's labels", q.Labels)
			}
			n += q.Count
		}
		return n
	}
	eventually(t, "the scale set's session statistics (no queued job)", func() bool { return queued() == 0 })
	if ss := fake.ScaleSets(); len(ss) != 1 || ss[0].Name != "big" {
		t.Fatalf("scale sets on the service: %+v, want big created by the control plane", ss)
	}

	// A job assigned to the scale set is the pool's demand.
	jobID := fake.QueueJob(scalesettest.Job{Labels: []string{"big"}})
	eventually(t, "the acquired job as one queued job of the scale set", func() bool { return queued() == 1 })

	// The node mints for its own slots only.
	for i, name := range []string{"node-1-0-a1", "node-1-1-b2"} {
		j, err := api.MintJIT(ctx, github.JITRequest{Name: name, Labels: []string{"big"}})
		if err != nil || j.Name != name || j.Encoded == "" || j.RunnerID == 0 {
			t.Fatalf("mint for slot %d: %+v %v", i, j, err)
		}
	}
	if _, err := api.MintJIT(ctx, github.JITRequest{Name: "node-1-2-c3", Labels: []string{"big"}}); err == nil {
		t.Fatal("a third scale-set runner for a 2-slot node was minted")
	}
	if _, err := api.MintJIT(ctx, github.JITRequest{Name: "node-2-0-d4", Labels: []string{"big"}}); !errors.Is(err, github.ErrUnauthorized) {
		t.Fatalf("minting another node's name: %v, want a 403 (ErrUnauthorized)", err)
	}
	var names []string
	for _, r := range fake.Runners() {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"node-1-0-a1", "node-1-1-b2"}) {
		t.Fatalf("scale-set runners on the service: %v", names)
	}

	// The runner takes the job (JobStarted): busy, not deletable, no longer queued.
	if got, err := fake.TakeJob("node-1-0-a1"); err != nil || got != jobID {
		t.Fatalf("runner takes job: %d %v, want %d", got, err, jobID)
	}
	var busy github.RunnerStatus
	eventually(t, "the runner busy after JobStarted", func() bool {
		rs, err := api.ListRunners(ctx, "node-1-0-a1")
		if err == nil && len(rs) == 1 {
			busy = rs[0]
		}
		return busy.Busy
	})
	if err := api.DeleteRunner(ctx, busy.ID); !errors.Is(err, github.ErrRunnerBusy) {
		t.Errorf("deleting the busy runner: %v, want ErrRunnerBusy", err)
	}
	eventually(t, "no queued job once the runner runs it", func() bool { return queued() == 0 })

	// JobCompleted: the node reads the result; the runner is gone, its slot free.
	if err := fake.CompleteJob(jobID, "succeeded"); err != nil {
		t.Fatal(err)
	}
	var st github.JobStatus
	eventually(t, "the job completed for the node", func() bool {
		st, _, _ = api.RunnerJob(ctx, github.JobRef{Repo: "acme/app", RunID: 1}, "node-1-0-a1")
		return st.Status == "completed"
	})
	if st.Conclusion != "success" || st.RunnerName != "node-1-0-a1" {
		t.Fatalf("job %+v, want success on node-1-0-a1", st)
	}
	rs, err := api.ListRunners(ctx, "")
	if err != nil || len(rs) != 1 || rs[0].Name != "node-1-1-b2" {
		t.Fatalf("the node's runners after the job: %+v %v, want its idle one", rs, err)
	}
	if _, err := api.MintJIT(ctx, github.JITRequest{Name: "node-1-0-e5", Labels: []string{"big"}}); err != nil {
		t.Fatalf("mint in the freed slot: %v", err)
	}

	// The scale set's rate limit (429 with Retry-After) reaches the node at
	// once, without a retry by the control plane (the one refusal would be
	// followed by a success), and pauses the node's calls.
	if err := api.DeleteRunner(ctx, rs[0].ID); err != nil {
		t.Fatalf("deleting its idle runner: %v", err)
	}
	fake.RateLimit(scalesettest.TooManyRequests, 1, 2*time.Second, "generatejitconfig")
	before := time.Now()
	if _, err := api.MintJIT(ctx, github.JITRequest{Name: "node-1-1-f6", Labels: []string{"big"}}); !errors.Is(err, github.ErrRateLimited) {
		t.Fatalf("mint under the scale set's rate limit: %v, want ErrRateLimited", err)
	}
	if until := f.gate.Until(ratelimit.Key("fleet-github", f.url)); until.Sub(before) < time.Second {
		t.Fatalf("the node's GitHub calls are paused until +%s, want about +2s (Retry-After)", until.Sub(before))
	}
	if calls := fake.AcquireCalls(); len(calls) == 0 {
		t.Error("the control plane acquired no job")
	}
	if n := fake.EarlyCalls(); n != 0 {
		t.Errorf("%d calls reached the scale-set service before its Retry-After passed", n)
	}
	if v := fake.Violations(); len(v) > 0 {
		t.Errorf("scale-set protocol violations: %v", strings.Join(v, "; "))
	}
}

// stepClock is a clock.Clock whose Now the test moves; it makes no timers.
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time                     { return c.now }
func (c *stepClock) NewTimer(time.Duration) clock.Timer { panic("no timers here") }

// TestScaleSetJobMemory: the session's word on a job is kept for its node
// an hour after JobCompleted, and past the longest job when JobCompleted
// never came; later records prune the older ones.
func TestScaleSetJobMemory(t *testing.T) {
	clk := &stepClock{now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	s := &scaleSetRunners{rest: &jitRunners{clk: clk}}
	started := func(name string) { s.JobStarted(&actions.JobStarted{RunnerName: name}) }
	completed := func(name string) { s.JobCompleted(&actions.JobCompleted{RunnerName: name, Result: "succeeded"}) }
	started("lost") // its JobCompleted never comes
	started("done")
	completed("done")
	steps := []struct {
		after time.Duration
		known []string
	}{
		{30 * time.Minute, []string{"done", "lost"}},
		{time.Hour, []string{"lost"}},                 // 90 min after JobCompleted
		{6*24*time.Hour - 89*time.Minute, []string{}}, // past the longest job
	}
	for i, st := range steps {
		clk.now = clk.now.Add(st.after)
		started(fmt.Sprintf("probe-%d", i)) // a record prunes
		for _, name := range []string{"done", "lost"} {
			_, ok := s.Job(name)
			if want := slices.Contains(st.known, name); ok != want {
				t.Errorf("step %d: job of %s known %v, want %v", i, name, ok, want)
			}
		}
	}
	if j, ok := s.Job("probe-2"); !ok || j.Completed {
		t.Errorf("the latest record: %+v %v", j, ok)
	}
}
