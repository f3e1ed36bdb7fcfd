package controlplane_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/fleetapi"
)

// fakeRunners is GitHub's runner registry as the control plane sees it
// through GitHubRunners: a name is registered once, a busy runner cannot
// be deleted, a rate limit refuses every call until it lifts. (The strict
// REST fake, runner/github/githubtest, is exercised through the real
// client in cmd/autoscaler's tests: autoscaler/ never imports runner/.)
type fakeRunners struct {
	mu      sync.Mutex
	next    int64
	runners map[int64]*fleetapi.Runner
	labels  map[int64][]string
	groups  map[int64]int64
	limited time.Duration // the next call is rate limited this long
	calls   int
	lists   int // ListRunners calls
	// lostAnswer: the next mint registers the runner but its answer is
	// lost (a timeout).
	lostAnswer bool
}

func newFakeRunners() *fakeRunners {
	return &fakeRunners{runners: map[int64]*fleetapi.Runner{}, labels: map[int64][]string{}, groups: map[int64]int64{}}
}

func (f *fakeRunners) call() error {
	f.calls++
	if f.limited > 0 {
		d := f.limited
		f.limited = 0
		return &controlplane.GitHubRateLimitError{RetryAfter: d, Err: fmt.Errorf("secondary rate limit")}
	}
	return nil
}

func (f *fakeRunners) MintJIT(_ context.Context, req controlplane.GitHubJITRequest) (fleetapi.JITConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(); err != nil {
		return fleetapi.JITConfig{}, err
	}
	for _, r := range f.runners {
		if r.Name == req.Name {
			return fleetapi.JITConfig{}, fmt.Errorf("%w: already exists", controlplane.ErrGitHubInvalid)
		}
	}
	f.next++
	f.runners[f.next] = &fleetapi.Runner{ID: f.next, Name: req.Name, Status: "offline"}
	f.labels[f.next] = req.Labels
	f.groups[f.next] = req.RunnerGroupID
	if f.lostAnswer {
		f.lostAnswer = false
		return fleetapi.JITConfig{}, context.DeadlineExceeded
	}
	return fleetapi.JITConfig{RunnerID: f.next, Name: req.Name, Encoded: "jit-" + req.Name}, nil
}

func (f *fakeRunners) ListRunners(_ context.Context, name string) ([]fleetapi.Runner, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(); err != nil {
		return nil, err
	}
	f.lists++
	var out []fleetapi.Runner
	for _, r := range f.runners {
		if name == "" || r.Name == name {
			out = append(out, *r)
		}
	}
	return out, nil
}

func (f *fakeRunners) Runner(_ context.Context, id int64) (fleetapi.Runner, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(); err != nil {
		return fleetapi.Runner{}, err
	}
	r, ok := f.runners[id]
	if !ok {
		return fleetapi.Runner{}, controlplane.ErrGitHubNotFound
	}
	return *r, nil
}

func (f *fakeRunners) DeleteRunner(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(); err != nil {
		return err
	}
	if r, ok := f.runners[id]; ok && r.Busy {
		return controlplane.ErrGitHubBusy
	}
	delete(f.runners, id)
	return nil
}

func (f *fakeRunners) RunnerJob(_ context.Context, ref fleetapi.JobRef, runner string) (fleetapi.Job, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(); err != nil {
		return fleetapi.Job{}, false, err
	}
	for _, r := range f.runners {
		if r.Name == runner && r.Busy {
			return fleetapi.Job{ID: ref.RunID * 10, Name: "build", Status: "in_progress", RunnerName: runner}, true, nil
		}
	}
	return fleetapi.Job{}, false, nil
}

func (f *fakeRunners) setBusy(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.runners {
		if r.Name == name {
			r.Busy, r.Status = true, "online"
		}
	}
}

// finish removes the runner named name, as GitHub does once a JIT
// runner's job ended.
func (f *fakeRunners) finish(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, r := range f.runners {
		if r.Name == name {
			delete(f.runners, id)
		}
	}
}

func (f *fakeRunners) listCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

func (f *fakeRunners) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.runners {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

// jitHarness is a control plane with GitHub JIT on and two registered
// nodes of pool "linux" (2 slots per node).
func jitHarness(t *testing.T) (*harness, *fakeRunners, map[string]string) {
	t.Helper()
	return jitHarnessWith(t, func(*controlplane.GitHubJITOptions) {})
}

// jitHarnessWith is jitHarness with the JIT options changed by tweak.
func jitHarnessWith(t *testing.T, tweak func(*controlplane.GitHubJITOptions)) (*harness, *fakeRunners, map[string]string) {
	t.Helper()
	gh := newFakeRunners()
	h := &harness{t: t, dbPath: t.TempDir() + "/fleet.db", demand: &fakeDemand{},
		clock: &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}}
	h.prov = newFakeProvider(h.clock.Now)
	h.tweak = func(o *controlplane.Options) {
		o.Provider = iidProvider{h.prov, newVerifying()} // signed identities: a node may register again
		o.GitHubJIT = &controlplane.GitHubJITOptions{API: gh, Pools: map[string]controlplane.GitHubJITPool{
			"linux": {Labels: []string{"self-hosted", "linux"}, RunnerGroupID: 7},
		}}
		tweak(o.GitHubJIT)
	}
	h.start()
	h.demand.set(3) // two nodes
	h.reconcile()
	toks := map[string]string{}
	for _, id := range []string{"0001", "0002"} {
		toks["node-"+id] = h.register("node-"+id, "i-"+id)
	}
	return h, gh, toks
}

func (h *harness) jit(tok string, path string, body, out any) (int, http.Header) {
	h.t.Helper()
	code, b, hdr := h.postHeader(path, tok, body)
	if code == http.StatusOK && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s answer %s: %v", path, b, err)
		}
	}
	return code, hdr
}

func TestGitHubJITMint(t *testing.T) {
	tests := []struct {
		name   string
		node   string
		runner string
		labels []string
		code   int
		result string
	}{
		{name: "own slot", node: "node-0001", runner: "node-0001-0-a1b2c3", labels: []string{"self-hosted", "linux"}, code: 200, result: "ok"},
		{name: "labels compare case-insensitively", node: "node-0001", runner: "node-0001-1-ff", labels: []string{"Linux"}, code: 200, result: "ok"},
		{name: "another node's name", node: "node-0001", runner: "node-0002-0-a1b2c3", labels: []string{"linux"}, code: 403, result: "refused_name"},
		{name: "a longer node's name", node: "node-0001", runner: "node-0001-0-a1-b2", labels: []string{"linux"}, code: 403, result: "refused_name"},
		{name: "no slot part", node: "node-0001", runner: "node-0001-evil", labels: []string{"linux"}, code: 403, result: "refused_name"},
		{name: "label outside the pool", node: "node-0001", runner: "node-0001-0-aa", labels: []string{"linux", "gpu"}, code: 403, result: "refused_labels"},
		{name: "no labels", node: "node-0001", runner: "node-0001-0-aa", code: 403, result: "refused_labels"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, gh, toks := jitHarness(t)
			var cfg fleetapi.JITConfig
			code, _ := h.jit(toks[tc.node], fleetapi.PathGitHubJIT, fleetapi.JITRequest{Name: tc.runner, Labels: tc.labels}, &cfg)
			if code != tc.code {
				t.Fatalf("mint %s as %s: HTTP %d, want %d", tc.runner, tc.node, code, tc.code)
			}
			if got := testutil.ToFloat64(mintsMetric(h, tc.result)); got != 1 {
				t.Errorf("runfleet_fleet_github_jit_mints_total{result=%q} = %v, want 1", tc.result, got)
			}
			if code != 200 {
				if n := gh.names(); len(n) != 0 {
					t.Errorf("a refused mint registered %v", n)
				}
				return
			}
			if cfg.Name != tc.runner || cfg.Encoded == "" || gh.groups[cfg.RunnerID] != 7 {
				t.Errorf("config %+v, group %d: want the runner %s in the pool's group 7", cfg, gh.groups[cfg.RunnerID], tc.runner)
			}
		})
	}
}

func mintsMetric(h *harness, result string) prometheus.Collector {
	return counterSeries(h.reg, "runfleet_fleet_github_jit_mints_total", "result", result)
}

func (h *harness) mint(tok, name string) int {
	h.t.Helper()
	code, _ := h.jit(tok, fleetapi.PathGitHubJIT, fleetapi.JITRequest{Name: name, Labels: []string{"linux"}}, nil)
	return code
}

// TestGitHubJITSlotCap: a node holds at most the slots it registered in
// unfinished runners (GitHub's registrations count, idle or busy), and
// never more than its pool's slots per node; a runner whose registration
// is gone frees its slot.
func TestGitHubJITSlotCap(t *testing.T) {
	h, _, toks := jitHarness(t) // pool "linux": 2 slots per node
	// node-0001 registers again with fewer slots than its pool's, node-0002
	// with more.
	toks["node-0001"] = h.registerSlots("node-0001", "i-0001", 1)
	toks["node-0002"] = h.registerSlots("node-0002", "i-0002", 5)
	tok := toks["node-0001"]
	for node, codes := range map[string][]int{
		"node-0001": {200, 409},      // its own 1 slot, not its pool's 2
		"node-0002": {200, 200, 409}, // its pool's 2, not its 5
	} {
		for i, want := range codes {
			if code := h.mint(toks[node], fmt.Sprintf("%s-%d-aa", node, i)); code != want {
				t.Fatalf("%s mint %d: HTTP %d, want %d", node, i, code, want)
			}
		}
	}
	var list fleetapi.RunnerList
	h.jit(tok, fleetapi.PathGitHubRunners, fleetapi.RunnersRequest{}, &list)
	if len(list.Runners) != 1 {
		t.Fatalf("node-0001 lists %+v, want its 1 runner only", list.Runners)
	}
	if code, _ := h.jit(tok, fleetapi.PathGitHubDeleteRunner, fleetapi.DeleteRunnerRequest{ID: list.Runners[0].ID}, nil); code != 200 {
		t.Fatalf("deleting its own runner: HTTP %d", code)
	}
	if code := h.mint(tok, "node-0001-2-bb"); code != 200 {
		t.Fatalf("mint after a runner was deleted: HTTP %d, want 200", code)
	}
	if got := testutil.ToFloat64(mintsMetric(h, "refused_slots")); got != 2 {
		t.Errorf("refused_slots = %v, want 2", got)
	}
}

// TestGitHubJITListsOnlyAtTheCap: the node's runners are listed from
// GitHub at its first mint and when the runners known fill its slots, not
// at every mint; a runner GitHub removed after its job (the node never
// deleted it) frees its slot once the cap makes the control plane look.
func TestGitHubJITListsOnlyAtTheCap(t *testing.T) {
	h, gh, toks := jitHarness(t)
	tok := toks["node-0001"]
	steps := []struct {
		do    func()
		code  int
		lists int // ListRunners calls so far
	}{
		{func() {}, 200, 1}, // first mint: GitHub's list
		{func() {}, 200, 1}, // second: from memory
		{func() {}, 409, 2}, // at the cap: GitHub's list again
		{func() { gh.finish("node-0001-0-aa") }, 200, 3}, // the job ended on GitHub's side
		{func() {}, 409, 4},
	}
	for i, st := range steps {
		st.do()
		if code := h.mint(tok, fmt.Sprintf("node-0001-%d-aa", i)); code != st.code {
			t.Fatalf("step %d: HTTP %d, want %d", i, code, st.code)
		}
		if n := gh.listCalls(); n != st.lists {
			t.Fatalf("step %d: %d lists of GitHub's runners, want %d", i, n, st.lists)
		}
	}
}

// TestGitHubJITOtherNodesRunners: delete, list and RunnerJob refuse
// another node's runners, by the name GitHub has for the id.
func TestGitHubJITOtherNodesRunners(t *testing.T) {
	h, gh, toks := jitHarness(t)
	if code := h.mint(toks["node-0002"], "node-0002-0-cc"); code != 200 {
		t.Fatalf("mint: HTTP %d", code)
	}
	var theirs fleetapi.RunnerList
	h.jit(toks["node-0002"], fleetapi.PathGitHubRunners, fleetapi.RunnersRequest{}, &theirs)
	id := theirs.Runners[0].ID
	gh.setBusy("node-0002-0-cc")
	tok := toks["node-0001"]
	tests := []struct {
		name string
		path string
		body any
	}{
		{"delete by id", fleetapi.PathGitHubDeleteRunner, fleetapi.DeleteRunnerRequest{ID: id}},
		{"list by name", fleetapi.PathGitHubRunners, fleetapi.RunnersRequest{Name: "node-0002-0-cc"}},
		{"runner job", fleetapi.PathGitHubRunnerJob, fleetapi.RunnerJobRequest{Ref: fleetapi.JobRef{Repo: "acme/app", RunID: 4}, Runner: "node-0002-0-cc"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, _ := h.jit(tok, tc.path, tc.body, nil); code != http.StatusForbidden {
				t.Errorf("node-0001: HTTP %d, want 403", code)
			}
		})
	}
	var mine fleetapi.RunnerList
	h.jit(tok, fleetapi.PathGitHubRunners, fleetapi.RunnersRequest{}, &mine)
	if len(mine.Runners) != 0 {
		t.Errorf("node-0001 lists %+v, want none of node-0002's", mine.Runners)
	}
	if n := gh.names(); !slices.Equal(n, []string{"node-0002-0-cc"}) {
		t.Errorf("runners %v: node-0002's must survive", n)
	}
	var job fleetapi.RunnerJobResponse
	code, _ := h.jit(toks["node-0002"], fleetapi.PathGitHubRunnerJob, fleetapi.RunnerJobRequest{Ref: fleetapi.JobRef{Repo: "acme/app", RunID: 4}, Runner: "node-0002-0-cc"}, &job)
	if code != 200 || !job.Found || job.Job.RunnerName != "node-0002-0-cc" {
		t.Errorf("the owner's RunnerJob: HTTP %d %+v", code, job)
	}
	if code, _ := h.jit(toks["node-0002"], fleetapi.PathGitHubDeleteRunner, fleetapi.DeleteRunnerRequest{ID: id}, nil); code != http.StatusConflict {
		t.Errorf("deleting a busy runner: HTTP %d, want 409", code)
	}
	if code, _ := h.jit("rfn_bogus", fleetapi.PathGitHubRunners, fleetapi.RunnersRequest{}, nil); code != http.StatusUnauthorized {
		t.Errorf("a bad node token: HTTP %d, want 401", code)
	}
}

// TestGitHubJITNodeGoneOrBack: a node that registers again loses its idle
// runners before it gets its token; a terminated node loses them too. Busy
// runners stay (GitHub refuses), and other nodes' runners are untouched.
func TestGitHubJITNodeGoneOrBack(t *testing.T) {
	h, gh, toks := jitHarness(t)
	for _, m := range []struct{ tok, name string }{
		{toks["node-0001"], "node-0001-0-aa"}, {toks["node-0001"], "node-0001-1-bb"}, {toks["node-0002"], "node-0002-0-cc"},
	} {
		if code := h.mint(m.tok, m.name); code != 200 {
			t.Fatalf("mint %s: HTTP %d", m.name, code)
		}
	}
	gh.setBusy("node-0001-1-bb")
	h.register("node-0001", "i-0001") // the agent restarted
	if n := gh.names(); !slices.Equal(n, []string{"node-0001-1-bb", "node-0002-0-cc"}) {
		t.Fatalf("after node-0001 registered again: runners %v, want its busy one and node-0002's", n)
	}
	h.prov.kill("i-0002") // the instance vanished: the node is removed
	h.clock.Add(2 * time.Minute)
	h.reconcile()
	h.reconcile()
	if _, ok := h.states()["node-0002"]; ok {
		t.Fatalf("node-0002 still known: %v", h.states())
	}
	if n := gh.names(); !slices.Equal(n, []string{"node-0001-1-bb"}) {
		t.Fatalf("after node-0002 was removed: runners %v, want node-0001's busy one", n)
	}
}

// TestGitHubJITRateLimit: GitHub's rate limit reaches the node as 429 with
// Retry-After, rounded up to whole seconds.
func TestGitHubJITRateLimit(t *testing.T) {
	h, gh, toks := jitHarness(t)
	gh.mu.Lock()
	gh.limited = 1500 * time.Millisecond
	gh.mu.Unlock()
	code, hdr := h.jit(toks["node-0001"], fleetapi.PathGitHubJIT, fleetapi.JITRequest{Name: "node-0001-0-aa", Labels: []string{"linux"}}, nil)
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") != "2" {
		t.Fatalf("HTTP %d Retry-After %q, want 429 and 2", code, hdr.Get("Retry-After"))
	}
	if got := testutil.ToFloat64(mintsMetric(h, "rate_limited")); got != 1 {
		t.Errorf("rate_limited = %v, want 1", got)
	}
	if code := h.mint(toks["node-0001"], "node-0001-0-aa"); code != 200 {
		t.Errorf("mint once the limit lifted: HTTP %d", code)
	}
}

// TestGitHubJITOff: without GitHubJIT the endpoints do not exist.
func TestGitHubJITOff(t *testing.T) {
	h := newHarness(t)
	h.demand.set(1)
	h.reconcile()
	tok := h.register("node-0001", "i-0001")
	if code := h.mint(tok, "node-0001-0-aa"); code != http.StatusNotFound {
		t.Errorf("HTTP %d, want 404", code)
	}
}

// TestGitHubJITConcurrentMints: a node's mints racing each other still get
// no more runners than its slots.
func TestGitHubJITConcurrentMints(t *testing.T) {
	h, gh, toks := jitHarness(t)
	codes := make(chan int, 6)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() { codes <- h.mint(toks["node-0001"], fmt.Sprintf("node-0001-%d-ee", i)) })
	}
	minted := make(chan struct{})
	go func() { wg.Wait(); close(minted) }()
	waitClosed(t, minted, "the six racing mints to be answered")
	close(codes)
	got := map[int]int{}
	for c := range codes {
		got[c]++
	}
	if got[200] != 2 || got[409] != 4 || len(gh.names()) != 2 {
		t.Errorf("answers %v, runners %v: want 2 minted and 4 refused (2 slots)", got, gh.names())
	}
}

// TestGitHubJITLostMintAnswer: a mint whose answer never came (GitHub may
// have registered the runner) leaves no registration behind to fill a
// slot; a refused one (nothing registered) costs no clean-up.
func TestGitHubJITLostMintAnswer(t *testing.T) {
	h, gh, toks := jitHarness(t)
	gh.mu.Lock()
	gh.lostAnswer = true
	gh.mu.Unlock()
	if code := h.mint(toks["node-0001"], "node-0001-0-aa"); code != http.StatusBadGateway {
		t.Fatalf("mint with a lost answer: HTTP %d, want 502", code)
	}
	if n := gh.names(); len(n) != 0 {
		t.Fatalf("runners %v left by a mint whose answer was lost", n)
	}
	for i := range 2 {
		if code := h.mint(toks["node-0001"], fmt.Sprintf("node-0001-%d-bb", i)); code != 200 {
			t.Fatalf("slot %d after the lost mint: HTTP %d", i, code)
		}
	}
}
