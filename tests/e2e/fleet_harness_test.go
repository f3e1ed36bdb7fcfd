package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/controlplane/sqlitestore"
	"github.com/runfleet/runfleet/autoscaler/demand/gitlab"
	"github.com/runfleet/runfleet/autoscaler/demand/gitlab/gitlabapitest"
	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
	dockerprov "github.com/runfleet/runfleet/autoscaler/provider/docker"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// fleetImage is the node image the fleet tests build from the agent.
const fleetImage = "runfleet/runner-dev:e2e"

var fleetImageOnce struct {
	sync.Once
	err error
}

// fleetBuildImage builds a static agent and the dev node image once.
func fleetBuildImage(t testing.TB) {
	t.Helper()
	fleetImageOnce.Do(func() {
		dir, err := os.MkdirTemp("", "runfleet-fleet-")
		if err != nil {
			fleetImageOnce.err = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "runner")
		build := exec.Command("go", "build", "-o", bin, "../../cmd/runner")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fleetImageOnce.err = fmt.Errorf("static agent build: %v\n%s", err, out)
			return
		}
		img := exec.Command("../../images/runner-dev/build.sh", fleetImage)
		img.Env = append(os.Environ(), "RUNNER_BIN="+bin)
		if out, err := img.CombinedOutput(); err != nil {
			fleetImageOnce.err = fmt.Errorf("node image build: %v\n%s", err, out)
		}
	})
	if fleetImageOnce.err != nil {
		t.Fatal(fleetImageOnce.err)
	}
}

// fleetEnv is one fleet under test: a fake GitLab with its REST jobs
// API, a control plane with the docker provider on a real engine.
type fleetEnv struct {
	t       *testing.T
	name    string
	gl      *gitlabtest.Server
	api     *gitlabapitest.Server
	token   string
	dir     string
	db      string
	addr    string
	prov    controlplane.Provider
	docker  *dockerprov.Provider
	wrap    func(controlplane.Provider) controlplane.Provider
	pool    policy.Pool
	ttl     time.Duration
	mu      sync.Mutex
	jobs    []int64
	seen    map[string]bool // every node name the provider ever listed
	ran     map[string]bool // every node name the provider ever listed running
	cp      *controlplane.ControlPlane
	reg     *prometheus.Registry
	stopCP  func()
	cpDone  chan struct{}
	logs    *syncBuffer
	joinTok string
	tls     *tls.Config // nil: clear text
}

func fleetNew(t *testing.T, maxNodes int) *fleetEnv {
	t.Helper()
	return fleetNewTLS(t, maxNodes, nil, nil)
}

// fleetNewTLS is fleetNew with the fleet API served over TLS with
// serverTLS, nodes trusting the PEM CA bundle ca.
func fleetNewTLS(t *testing.T, maxNodes int, serverTLS *tls.Config, ca []byte) *fleetEnv {
	t.Helper()
	dockerClient(t) // fails loudly without an engine
	fleetBuildImage(t)
	f := &fleetEnv{t: t, name: fmt.Sprintf("e2e%d", time.Now().UnixNano()%1e8), dir: t.TempDir(),
		seen: map[string]bool{}, ran: map[string]bool{}, logs: &syncBuffer{}, joinTok: "join-" + fmt.Sprint(time.Now().UnixNano())}
	f.db = filepath.Join(f.dir, "fleet.db")
	f.gl = gitlabtest.New(t, gitlabtest.WithLongPollHold(2*time.Second))
	f.token = fmt.Sprintf("glrt-fleet%015d", time.Now().UnixNano()%1e12)
	f.gl.AddRunner(f.token)
	f.api = gitlabapitest.New("glpat-fleet", func(p string) ([]gitlabapitest.Job, bool) {
		if p != "42" {
			return nil, false
		}
		f.mu.Lock()
		ids := slices.Clone(f.jobs)
		f.mu.Unlock()
		var out []gitlabapitest.Job
		for _, id := range ids {
			if f.gl.Job(id).State == gitlabtest.StatePending {
				out = append(out, gitlabapitest.Job{ID: id, Name: "fleet"})
			}
		}
		return out, true
	})
	t.Cleanup(f.api.Close)
	f.addr = freePort(t)
	f.pool = policy.Pool{Name: "linux", SlotsPerNode: 2, MaxNodes: maxNodes, ScaleDownDelay: 2 * time.Second,
		Offerings: []policy.Offering{dockerprov.DefaultOffering}}
	f.ttl = 3 * time.Second
	nodeCfg := fmt.Sprintf(`concurrent = 2
check_interval = 1
shutdown_timeout = 20
log_level = "debug"
[[runners]]
name = "fleet"
url = %q
token = %q
executor = "docker"
[runners.docker]
image = %q
pull_policy = ["never"]
memory = "128m"
`, f.gl.URL(), f.token, testImage)
	p, err := dockerprov.New(dockerprov.Options{Fleet: f.name, Image: fleetImage, NodeConfig: []byte(nodeCfg),
		Slots: 2, StateDir: filepath.Join(f.dir, "nodes"), AllowHostDockerSocket: true, FleetCA: ca})
	if err != nil {
		t.Fatal(err)
	}
	f.docker = p
	f.tls = serverTLS
	t.Cleanup(func() {
		f.stop()
		if t.Failed() {
			t.Logf("control plane log:\n%s", tail(f.logs.String(), 8000))
			f.nodeLogs()
		}
		f.removeAll()
		p.Close()
	})
	return f
}

// enqueue queues n jobs that each run for a while.
func (f *fleetEnv) enqueue(n int, script string) []int64 {
	var ids []int64
	for range n {
		id := f.gl.Enqueue(gitlabtest.JobSpec{Script: []string{script},
			Variables: []gitlabtest.Variable{{Key: "GIT_STRATEGY", Value: "none"}}})
		ids = append(ids, id)
	}
	f.mu.Lock()
	f.jobs = append(f.jobs, ids...)
	f.mu.Unlock()
	return ids
}

// start runs a control plane on the fleet's database and address.
func (f *fleetEnv) start() {
	t := f.t
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), f.db)
	if err != nil {
		t.Fatal(err)
	}
	demand, err := gitlab.New(gitlab.Options{BaseURL: f.api.URL(), Token: "glpat-fleet", Projects: []string{"42"}})
	if err != nil {
		t.Fatal(err)
	}
	f.prov = controlplane.Provider(f.docker)
	if f.wrap != nil {
		f.prov = f.wrap(f.prov)
	}
	f.reg = prometheus.NewRegistry()
	cp, err := controlplane.New(context.Background(), controlplane.Options{
		Store: st, Provider: f.prov, Demand: []controlplane.Demand{demand}, Pools: []policy.Pool{f.pool},
		Policy: policy.Policy{FailureTTL: f.ttl}, JoinToken: f.joinTok, FleetURL: f.url(),
		HeartbeatInterval: time.Second, HeartbeatGrace: 6 * time.Second, BootTimeout: time.Minute,
		ReconcileInterval: time.Second, Logger: newTestLogger(f.logs), Registry: f.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.cp = cp
	var ln net.Listener
	for range 50 { // the port may linger a moment after a restart
		if ln, err = net.Listen("tcp", f.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if f.tls != nil {
		ln = tls.NewListener(ln, f.tls)
	}
	srv := &http.Server{Handler: cp.Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) })
	wg.Go(func() { _ = cp.Run(ctx) })
	wg.Go(func() { f.watch(ctx) })
	go func() { wg.Wait(); st.Close(); close(done) }()
	f.cpDone = done
	f.stopCP = func() {
		cancel()
		srv.Close()
	}
}

// url is the fleet API's URL as nodes reach it.
func (f *fleetEnv) url() string {
	if f.tls != nil {
		return "https://" + f.addr
	}
	return "http://" + f.addr
}

// stop stops the control plane (nodes keep running).
func (f *fleetEnv) stop() {
	if f.stopCP != nil {
		f.stopCP()
		waitDone(f.t, f.cpDone, time.Minute, "the control plane (API server, Run loop, provider watch) to stop")
		f.stopCP = nil
	}
}

// watch records every node name the provider lists.
func (f *fleetEnv) watch(ctx context.Context) {
	for ctx.Err() == nil {
		if insts, err := f.docker.List(ctx); err == nil {
			f.mu.Lock()
			for _, in := range insts {
				f.seen[in.Name] = true
				if in.State == "running" {
					f.ran[in.Name] = true
				}
			}
			f.mu.Unlock()
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (f *fleetEnv) everLaunched() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

// everRan counts the nodes that were ever seen running: a container a
// killed control plane created but never started is not a node.
func (f *fleetEnv) everRan() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ran)
}

// running lists the node containers that run now.
func (f *fleetEnv) running() []provider.Instance {
	insts, err := f.docker.List(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	var out []provider.Instance
	for _, in := range insts {
		if in.State == "running" {
			out = append(out, in)
		}
	}
	return out
}

func (f *fleetEnv) nodes() int {
	insts, err := f.docker.List(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return len(insts)
}

func (f *fleetEnv) readyNodes() int {
	n := 0
	for _, s := range f.cp.Status().Nodes {
		if s.State == string(policy.NodeReady) {
			n++
		}
	}
	return n
}

func (f *fleetEnv) waitJobs(ids []int64, timeout time.Duration) {
	f.t.Helper()
	for _, id := range ids {
		rec := f.gl.WaitFinal(f.t, id, timeout)
		if rec.State != gitlabtest.StateSuccess || rec.FinalUpdates != 1 {
			f.t.Fatalf("job %d: %s (%s), %d final updates\n%s", id, rec.State, rec.FailureReason, rec.FinalUpdates, rec.Trace)
		}
	}
}

func (f *fleetEnv) nodeLogs() {
	c := dockerClient(f.t)
	for _, in := range f.running() {
		rc, err := c.ContainerLogs(context.Background(), in.ProviderID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "40"})
		if err != nil {
			continue
		}
		b := make([]byte, 16000)
		n, _ := rc.Read(b)
		rc.Close()
		f.t.Logf("node %s log:\n%s", in.Name, b[:n])
	}
}

// removeAll removes every node container of the fleet and what they left.
func (f *fleetEnv) removeAll() {
	ctx := context.Background()
	c, err := dockerClientQuiet()
	if err != nil {
		return
	}
	defer c.Close()
	cs, _ := c.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", provider.LabelFleet+"="+f.name))})
	for _, x := range cs {
		name := x.Names[0][1:]
		_ = f.docker.Terminate(ctx, name)
		reapNode(f.t, name)
	}
}

// faultyProvider wraps a provider: the first Launch calls fail as listed.
type faultyProvider struct {
	controlplane.Provider
	mu       sync.Mutex
	failures []error
	calls    int
}

func (p *faultyProvider) Launch(ctx context.Context, req provider.LaunchRequest) ([]provider.Instance, error) {
	p.mu.Lock()
	p.calls++
	var err error
	if len(p.failures) > 0 {
		err, p.failures = p.failures[0], p.failures[1:]
	}
	p.mu.Unlock()
	var ce *provider.CapacityError
	if errors.As(err, &ce) {
		ce.Offering = req.Offering
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	return p.Provider.Launch(ctx, req)
}

func newTestLogger(w *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func dockerClientQuiet() (*client.Client, error) {
	return client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
}

// scaleEvents counts the control plane's scale events of kind.
func (f *fleetEnv) metric(name string, labels map[string]string) float64 {
	mfs, err := f.reg.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			if m.Counter != nil {
				sum += m.GetCounter().GetValue()
			} else if m.Gauge != nil {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// startAgentWithEnv is startAgentWith with extra environment variables.
func startAgentWithEnv(t *testing.T, cfg, node, dir, metrics string, env ...string) *agent {
	t.Helper()
	a := &agent{t: t, node: node, dir: dir, metrics: metrics, out: &syncBuffer{}, done: make(chan struct{})}
	a.cmd = exec.Command(runnerBin, "run", "--config", cfg)
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	a.cmd.Env = append(append(os.Environ(), "RUNFLEET_CONFIG="), env...)
	a.cmd.WaitDelay = agentWaitDelay
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		a.err = a.cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() {
		a.signal(syscall.SIGKILL)
		select { // on a timeout, still show the log and reap the node
		case <-a.done:
		case <-time.After(agentExitWait):
			t.Errorf("timed out after %s waiting for the SIGKILLed agent to exit", agentExitWait)
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", tail(a.out.String(), 6000))
		}
		reapNode(t, node)
	})
	return a
}

func readFileIfExists(path string) ([]byte, error) { return os.ReadFile(path) }
