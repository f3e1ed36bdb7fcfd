package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/github/githubtest"
	"github.com/runfleet/runfleet/runner/github/scalesettest"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// holdServer lets jobs wait until the test releases them: a job polls
// GET /go/KEY, answered 503 until Release(KEY). It listens where job
// containers reach the host (Docker's default bridge).
type holdServer struct {
	addr     string
	mu       sync.Mutex
	released map[string]bool
}

func newHoldServer(t *testing.T) *holdServer {
	t.Helper()
	h := &holdServer{released: map[string]bool{}}
	ln, err := net.Listen("tcp", bridgeGateway(t)+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		ok := h.released[strings.TrimPrefix(r.URL.Path, "/go/")]
		h.mu.Unlock()
		if !ok {
			http.Error(w, "held", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "go")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	h.addr = ln.Addr().String()
	return h
}

// script waits for key's release, then says so.
func (h *holdServer) script(key string) string {
	return fmt.Sprintf("until wget -q -O /dev/null http://%s/go/%s 2>/dev/null; do sleep 0.2; done; echo released-%s", h.addr, key, key)
}

func (h *holdServer) release(key string) {
	h.mu.Lock()
	h.released[key] = true
	h.mu.Unlock()
}

// agentMetric reads one sample of the agent's /metrics (series is the
// metric name with its labels as printed, e.g. `runfleet_slots_busy` or
// `runfleet_jobs_running{runner="gh"}`); -1 when absent or unreadable.
func agentMetric(addr, series string) float64 {
	resp, err := probeClient().Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return -1
			}
			return f
		}
	}
	return -1
}

// TestMixedNode runs one agent with a GitLab runner, a GitHub label-mode
// table and a GitHub scale set on one shared Docker executor, concurrent
// 3, each source allowed 3: label mode alone would keep an idle runner in
// every slot. A GitLab job and a scale-set job queued once label mode's
// idle runners are up still start (no starvation; the log counts the idle
// slots preempted for them), and with one job of each kind running the node reports
// exactly 3 busy slots, one per source, while a fourth job waits. On
// SIGTERM (a drain) the agent takes nothing new and withdraws its idle
// runners but stays until every kind of job has finished, its busy count
// going 3 → 2 → 1 → 0 as the jobs are released one by one.
func TestMixedNode(t *testing.T) {
	dockerClient(t)
	hold := newHoldServer(t)
	dir := t.TempDir()
	node := nodeName(t)
	metrics := freePort(t)

	gl := gitlabtest.New(t, gitlabtest.WithLongPollHold(2*time.Second))
	gl.AddRepo(t, "group/project", map[string]string{"README.md": "hello\n"})
	glToken := fmt.Sprintf("glrt-%020d", time.Now().UnixNano()%1e12*7919)
	gl.AddRunner(glToken)

	gh := newGitHubFake(t)
	ghToken := fmt.Sprintf("ghp_mixed%018d", time.Now().UnixNano()%1e12)
	gh.AddPAT(ghToken, "orgs/acme")
	ghTokFile := filepath.Join(dir, "gh-token")
	ss := newScaleSetFake(t)
	ssTokFile := filepath.Join(dir, "ss-token")
	for f, tok := range map[string]string{ghTokFile: ghToken, ssTokFile: scalesetPAT} {
		if err := os.WriteFile(f, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`concurrent = 3
check_interval = 1
listen_address = %q
shutdown_timeout = 300
node_name = %q
log_level = "debug"

[[runners]]
name = "gl"
url = %q
token = %q
executor = "docker"
limit = 3
builds_dir = %q
[runners.docker]
image = %q
pull_policy = ["never"]
memory = "256m"
pids_limit = 512
[runners.cache]
dir = %q

[[github]]
name = "gh"
url = %q
token_file = %q
labels = ["self-hosted", "linux"]
limit = 3
runner_image = %q
pull_policy = "never"
memory = "256m"
pids_limit = 512
state_dir = %q

[[github_scale_set]]
url = %q
token_file = %q
scale_set = "mixed-set"
min_idle = 1
max_runners = 4
limit = 3
runner_image = %q
pull_policy = "never"
memory = "256m"
pids_limit = 512
state_dir = %q
`, metrics, node, gl.URL(), glToken, filepath.Join(dir, "builds"), testImage, filepath.Join(dir, "cache"),
		gh.URL()+"/acme", ghTokFile, githubStubImage, filepath.Join(dir, "gh-state"),
		ss.ConfigURL("acme"), ssTokFile, githubStubImage, filepath.Join(dir, "ss-state"))
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startAgentWith(t, cfgPath, node, dir, metrics)
	busy := func() float64 { return agentMetric(metrics, "runfleet_slots_busy") }
	running := func(src string) float64 { return agentMetric(metrics, `runfleet_jobs_running{runner="`+src+`"}`) }

	// Idle runners of both GitHub sources come up; none is busy.
	gh.WaitRunners(t, time.Minute, "an idle label-mode runner", func(rs []githubtest.RunnerInfo) bool {
		return len(nodeRunners(gh, node)) >= 1
	})
	waitFor(t, time.Minute, "the scale set's idle runner (min_idle 1)", func() bool {
		rs := ss.Runners()
		return len(rs) == 1 && rs[0].Online
	})
	if b := busy(); b != 0 {
		t.Fatalf("idle runners count as busy: runfleet_slots_busy %v", b)
	}

	// One job of each kind: all start, though label mode alone would
	// keep an idle runner in every slot.
	glJob := gl.Enqueue(gitlabtest.JobSpec{Script: []string{hold.script("gl")}})
	ghJob := gh.Enqueue(githubtest.JobSpec{Repo: "acme/app", Labels: []string{"self-hosted"}, Script: []string{hold.script("gh")}})
	ssJob := ss.QueueJob(scalesettest.Job{Labels: []string{"mixed-set"}, Steps: []string{hold.script("ss")}})
	waitFor(t, 2*time.Minute, "one job of each source running, 3 busy slots", func() bool {
		return busy() == 3 && running("gl") == 1 && running("gh") == 1 && running("mixed-set") == 1
	})
	t.Logf("busy slots with one job of each kind: %v (gl %v, gh %v, mixed-set %v)", busy(), running("gl"), running("gh"), running("mixed-set"))
	if r := gl.Job(glJob); r.State != gitlabtest.StateRunning {
		t.Fatalf("GitLab job %s, want running", r.State)
	}
	if j := gh.Job(ghJob); j.Status != "in_progress" {
		t.Fatalf("label-mode job %+v, want in_progress", j)
	}
	if j, _ := ss.Job(ssJob); j.State != scalesettest.JobRunning {
		t.Fatalf("scale-set job %+v, want running", j)
	}

	// The node is full: a fourth job waits, the count stays exact.
	waiting := gl.Enqueue(gitlabtest.JobSpec{Script: []string{"echo should-not-run"}})
	time.Sleep(3 * time.Second)
	if r := gl.Job(waiting); r.State != gitlabtest.StatePending {
		t.Fatalf("a job started on a full node: %s", r.State)
	}
	if b := busy(); b != 3 {
		t.Fatalf("busy %v on a full node, want 3", b)
	}

	// Drain: SIGTERM. The agent stays until every kind of job is done.
	a.signal(syscall.SIGTERM)
	stillUp := func(what string) {
		t.Helper()
		select {
		case <-a.done:
			t.Fatalf("the agent exited while %s\n%s", what, tail(a.out.String(), 4000))
		default:
		}
	}
	var ghRegs []githubtest.RunnerInfo
	var ssRegs []scalesettest.Runner
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("registrations at the drain: label mode %+v, scale set %+v", ghRegs, ssRegs)
		}
	})
	waitFor(t, time.Minute, "only the busy runners registered", func() bool {
		ghRegs, ssRegs = nodeRunners(gh, node), ss.Runners()
		return len(ghRegs) == 1 && len(ssRegs) == 1
	})
	for i, key := range []string{"gh", "ss", "gl"} {
		stillUp("jobs were running")
		if b := busy(); b != float64(3-i) {
			t.Fatalf("draining with %d jobs running: busy %v", 3-i, b)
		}
		hold.release(key)
		if key != "gl" {
			waitFor(t, time.Minute, "busy down to "+strconv.Itoa(2-i)+" after releasing "+key, func() bool { return busy() == float64(2-i) })
		}
	}
	select {
	case <-a.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the agent did not exit after its last job")
	}
	if a.err != nil {
		t.Fatalf("agent exit: %v\n%s", a.err, tail(a.out.String(), 4000))
	}
	t.Logf("idle slots preempted for a source that had none: %d", strings.Count(a.out.String(), "slot given to a runner that had none"))
	if r := gl.Job(glJob); r.State != gitlabtest.StateSuccess || !strings.Contains(string(r.Trace), "released-gl") {
		t.Errorf("GitLab job %s %q", r.State, r.FailureReason)
	}
	if j := gh.Job(ghJob); j.Conclusion != "success" || !strings.Contains(j.Output, "released-gh") {
		t.Errorf("label-mode job %+v", j)
	}
	if j, _ := ss.Job(ssJob); j.State != scalesettest.JobCompleted || j.Result != "succeeded" || !strings.Contains(j.Output, "released-ss") {
		t.Errorf("scale-set job %+v", j)
	}
	if r := gl.Job(waiting); r.State != gitlabtest.StatePending {
		t.Errorf("the waiting job was taken during the drain: %s", r.State)
	}
	if rs := nodeRunners(gh, node); len(rs) != 0 {
		t.Errorf("label-mode registrations left: %+v", rs)
	}
	if rs := ss.Runners(); len(rs) != 0 {
		t.Errorf("scale-set registrations left: %+v", rs)
	}
	if l := leftovers(t, node); len(l) != 0 {
		t.Errorf("left behind: %v", l)
	}
}
