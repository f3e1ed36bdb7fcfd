package controlplane_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/fleetapi"
)

// fakeScaleSet is a runner scale set as the control plane sees it through
// GitHubScaleSetRunners: names are registered once, a runner running a job
// cannot be removed, a JIT runner unregisters after its job, and the
// session reports JobStarted and JobCompleted. (The strict scale-set fake,
// runner/github/scalesettest, is exercised through the real client in
// cmd/autoscaler's tests: autoscaler/ never imports runner/.)
type fakeScaleSet struct {
	mu      sync.Mutex
	next    int64
	runners map[int64]string // id → name
	jobs    map[string]controlplane.ScaleSetJob
}

func newFakeScaleSet() *fakeScaleSet {
	return &fakeScaleSet{next: 100, runners: map[int64]string{}, jobs: map[string]controlplane.ScaleSetJob{}}
}

func (f *fakeScaleSet) MintJIT(_ context.Context, name string) (fleetapi.JITConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.runners {
		if n == name {
			return fleetapi.JITConfig{}, fmt.Errorf("%w: runner exists", controlplane.ErrGitHubInvalid)
		}
	}
	f.next++
	f.runners[f.next] = name
	return fleetapi.JITConfig{RunnerID: f.next, Name: name, Encoded: "ss-jit-" + name}, nil
}

func (f *fakeScaleSet) RunnerByName(_ context.Context, name string) (fleetapi.Runner, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, n := range f.runners {
		if n == name {
			return fleetapi.Runner{ID: id, Name: n}, true, nil
		}
	}
	return fleetapi.Runner{}, false, nil
}

func (f *fakeScaleSet) Runner(_ context.Context, id int64) (fleetapi.Runner, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.runners[id]
	if !ok {
		return fleetapi.Runner{}, controlplane.ErrGitHubNotFound
	}
	return fleetapi.Runner{ID: id, Name: n}, nil
}

func (f *fakeScaleSet) DeleteRunner(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j, ok := f.jobs[f.runners[id]]; ok && !j.Completed {
		return controlplane.ErrGitHubBusy
	}
	delete(f.runners, id)
	return nil
}

func (f *fakeScaleSet) Job(runner string) (controlplane.ScaleSetJob, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[runner]
	return j, ok
}

// take and complete are the session's JobStarted and JobCompleted; a
// completed JIT runner unregisters.
func (f *fakeScaleSet) take(runner string, id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs[runner] = controlplane.ScaleSetJob{ID: id}
}

func (f *fakeScaleSet) complete(runner, result string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.jobs[runner]
	j.Completed, j.Result = true, result
	f.jobs[runner] = j
	for id, n := range f.runners {
		if n == runner {
			delete(f.runners, id)
		}
	}
}

func (f *fakeScaleSet) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, n := range f.runners {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// scaleSetHarness is jitHarness with scale set "big" on pool linux and
// scale set "gpu" on another pool.
func scaleSetHarness(t *testing.T) (*harness, *fakeRunners, *fakeScaleSet, map[string]string) {
	t.Helper()
	ss := newFakeScaleSet()
	h, gh, toks := jitHarnessWith(t, func(o *controlplane.GitHubJITOptions) {
		o.ScaleSets = map[string]controlplane.GitHubScaleSet{
			"big": {Pool: "linux", API: ss},
			"gpu": {Pool: "gpu", API: newFakeScaleSet()},
		}
	})
	return h, gh, ss, toks
}

func (h *harness) mintScaleSet(tok, scaleSet, name string) (int, fleetapi.JITConfig) {
	h.t.Helper()
	var cfg fleetapi.JITConfig
	code, _ := h.jit(tok, fleetapi.PathGitHubJIT, fleetapi.JITRequest{Name: name, ScaleSet: scaleSet}, &cfg)
	return code, cfg
}

// TestGitHubScaleSetMint: a node gets scale-set JIT configs for its own
// runner names and slots only (label-mode and scale-set runners share its
// slots), for the scale sets of its pool only.
func TestGitHubScaleSetMint(t *testing.T) {
	h, _, ss, toks := scaleSetHarness(t)
	n1, n2 := toks["node-0001"], toks["node-0002"]
	steps := []struct {
		what           string
		tok, set, name string
		code           int
	}{
		{"own slot", n1, "big", "node-0001-0-aa", 200},
		{"another node's name", n1, "big", "node-0002-0-aa", 403},
		{"a scale set of another pool", n1, "gpu", "node-0001-1-aa", 403},
		{"a scale set not configured", n1, "nope", "node-0001-1-aa", 403},
		{"second slot", n1, "big", "node-0001-1-bb", 200},
		{"past the slots", n1, "big", "node-0001-2-cc", 409},
		{"the other node", n2, "big", "node-0002-0-dd", 200},
	}
	for _, s := range steps {
		code, cfg := h.mintScaleSet(s.tok, s.set, s.name)
		if code != s.code {
			t.Fatalf("%s: mint %s on %s: HTTP %d, want %d", s.what, s.name, s.set, code, s.code)
		}
		if code == 200 && (cfg.Name != s.name || cfg.Encoded != "ss-jit-"+s.name) {
			t.Fatalf("%s: config %+v", s.what, cfg)
		}
	}
	if got := ss.names(); !slices.Equal(got, []string{"node-0001-0-aa", "node-0001-1-bb", "node-0002-0-dd"}) {
		t.Fatalf("scale set runners %v", got)
	}
	// A label-mode runner counts toward the same slots.
	if code := h.mint(n2, "node-0002-1-ee0"); code != 200 {
		t.Fatalf("label-mode mint in node-0002's second slot: HTTP %d", code)
	}
	if code, _ := h.mintScaleSet(n2, "big", "node-0002-2-ff0"); code != http.StatusConflict {
		t.Fatalf("scale-set mint past node-0002's slots (one label-mode, one scale-set runner): HTTP %d, want 409", code)
	}
	// A runner whose job completed is gone from the scale set: its slot is free.
	ss.take("node-0001-0-aa", 7)
	ss.complete("node-0001-0-aa", "succeeded")
	if code, _ := h.mintScaleSet(n1, "big", "node-0001-0-ab12"); code != 200 {
		t.Fatalf("mint after a runner's job completed: HTTP %d, want 200", code)
	}
}

// TestGitHubScaleSetOtherNodes: a node lists, deletes and asks the job of
// its own scale-set runners only; the job's result is the session's; a
// busy runner is not deleted.
func TestGitHubScaleSetOtherNodes(t *testing.T) {
	h, _, ss, toks := scaleSetHarness(t)
	n1, n2 := toks["node-0001"], toks["node-0002"]
	_, own := h.mintScaleSet(n1, "big", "node-0001-0-aa")
	_, other := h.mintScaleSet(n2, "big", "node-0002-0-bb")
	if own.RunnerID == 0 || other.RunnerID == 0 {
		t.Fatalf("mints: %+v %+v", own, other)
	}
	var list fleetapi.RunnerList
	if code, _ := h.jit(n1, fleetapi.PathGitHubRunners, fleetapi.RunnersRequest{ScaleSet: "big"}, &list); code != 200 ||
		len(list.Runners) != 1 || list.Runners[0].Name != "node-0001-0-aa" {
		t.Fatalf("node-0001 lists HTTP %d %+v, want its one runner", code, list.Runners)
	}
	if code, _ := h.jit(n1, fleetapi.PathGitHubRunners, fleetapi.RunnersRequest{ScaleSet: "big", Name: "node-0002-0-bb"}, nil); code != http.StatusForbidden {
		t.Errorf("listing another node's runner by name: HTTP %d, want 403", code)
	}
	if code, _ := h.jit(n1, fleetapi.PathGitHubDeleteRunner, fleetapi.DeleteRunnerRequest{ID: other.RunnerID, ScaleSet: "big"}, nil); code != http.StatusForbidden {
		t.Errorf("deleting another node's runner: HTTP %d, want 403", code)
	}
	if code, _ := h.jit(n1, fleetapi.PathGitHubRunnerJob, fleetapi.RunnerJobRequest{Runner: "node-0002-0-bb", ScaleSet: "big"}, nil); code != http.StatusForbidden {
		t.Errorf("asking another node's runner's job: HTTP %d, want 403", code)
	}
	if !slices.Contains(ss.names(), "node-0002-0-bb") {
		t.Fatal("node-0002's runner is gone")
	}
	// The session says the runner took a job: busy, not deletable.
	ss.take("node-0001-0-aa", 42)
	list = fleetapi.RunnerList{}
	h.jit(n1, fleetapi.PathGitHubRunners, fleetapi.RunnersRequest{ScaleSet: "big", Name: "node-0001-0-aa"}, &list)
	if len(list.Runners) != 1 || !list.Runners[0].Busy {
		t.Fatalf("a runner running a job lists as %+v, want busy", list.Runners)
	}
	if code, _ := h.jit(n1, fleetapi.PathGitHubDeleteRunner, fleetapi.DeleteRunnerRequest{ID: own.RunnerID, ScaleSet: "big"}, nil); code != http.StatusConflict {
		t.Errorf("deleting a busy runner: HTTP %d, want 409", code)
	}
	var job fleetapi.RunnerJobResponse
	h.jit(n1, fleetapi.PathGitHubRunnerJob, fleetapi.RunnerJobRequest{Runner: "node-0001-0-aa", ScaleSet: "big"}, &job)
	if !job.Found || job.Job.Status != "in_progress" || job.Job.ID != 42 {
		t.Fatalf("job of a running runner: %+v", job)
	}
	ss.complete("node-0001-0-aa", "failed")
	job = fleetapi.RunnerJobResponse{}
	h.jit(n1, fleetapi.PathGitHubRunnerJob, fleetapi.RunnerJobRequest{Runner: "node-0001-0-aa", ScaleSet: "big"}, &job)
	if !job.Found || job.Job.Status != "completed" || job.Job.Conclusion != "failure" || job.Job.RunnerName != "node-0001-0-aa" {
		t.Fatalf("job after JobCompleted(failed): %+v, want completed/failure", job)
	}
	// Gone already is fine.
	if code, _ := h.jit(n1, fleetapi.PathGitHubDeleteRunner, fleetapi.DeleteRunnerRequest{ID: own.RunnerID, ScaleSet: "big"}, nil); code != 200 {
		t.Errorf("deleting a runner gone after its job: HTTP %d, want 200", code)
	}
}

// TestGitHubScaleSetNodeGone: a node that registers again or is removed
// loses its idle scale-set registrations; busy ones and other nodes'
// stay.
func TestGitHubScaleSetNodeGone(t *testing.T) {
	h, _, ss, toks := scaleSetHarness(t)
	for _, m := range []struct{ tok, name string }{
		{toks["node-0001"], "node-0001-0-aa"}, {toks["node-0001"], "node-0001-1-bb"}, {toks["node-0002"], "node-0002-0-cc"},
	} {
		if code, _ := h.mintScaleSet(m.tok, "big", m.name); code != 200 {
			t.Fatalf("mint %s: HTTP %d", m.name, code)
		}
	}
	ss.take("node-0001-1-bb", 9)
	h.register("node-0001", "i-0001") // the agent restarted
	if n := ss.names(); !slices.Equal(n, []string{"node-0001-1-bb", "node-0002-0-cc"}) {
		t.Fatalf("after node-0001 registered again: runners %v, want its busy one and node-0002's", n)
	}
	h.prov.kill("i-0002")
	h.clock.Add(2 * time.Minute)
	h.reconcile()
	h.reconcile()
	if n := ss.names(); !slices.Equal(n, []string{"node-0001-1-bb"}) {
		t.Fatalf("after node-0002 was removed: runners %v, want node-0001's busy one", n)
	}
}
