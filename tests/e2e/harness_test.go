package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// testImage is built offline by `make images`.
const testImage = "runfleet/busybox:latest"

// helperImage checks the sources out (`runner helper-image`, run by make images).
const helperImage = "runfleet/git-helper:latest"

var runnerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runfleet-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runnerBin = filepath.Join(dir, "runner")
	args := []string{"build", "-o", runnerBin}
	if os.Getenv("RUNFLEET_E2E_RACE") == "1" {
		// The agent binary with the race detector: data races end the
		// process with exit code 66 and a report in the agent log.
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../../cmd/runner")...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the runner:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// dockerClient returns a client for the engine the tests use; it fails the
// test (never skips) when the engine does not answer or the image is missing.
func dockerClient(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("the Docker engine does not answer (DOCKER_HOST=%q): %v — end-to-end tests need it; .ci/run starts one", os.Getenv("DOCKER_HOST"), err)
	}
	if _, err := c.ImageInspect(ctx, testImage); err != nil {
		t.Fatalf("image %s is missing: run 'make images' (%v)", testImage, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// agentConfig is what a test varies in the agent's config.
type agentConfig struct {
	Concurrent      int
	Limit           int
	ShutdownTimeout int
	Extra           string // appended to [runners.docker]
	OutputLimitKiB  int
	Global          string // TOML inserted before [[runners]]
	Runner          string // TOML appended to [[runners]]
}

// agent is one running `runner run` process.
type agent struct {
	t       testing.TB
	cmd     *exec.Cmd
	node    string
	dir     string
	metrics string
	out     *syncBuffer
	done    chan struct{}
	err     error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// nodeName is unique per test so parallel tests never reap each other.
func nodeName(t testing.TB) string {
	n := strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
	return fmt.Sprintf("e2e-%s-%d", n, time.Now().UnixNano()%1e6)
}

// writeConfig writes a config for one runner with token tok against srv.
func writeConfig(t testing.TB, dir, node string, srv *gitlabtest.Server, tok string, c agentConfig) (path, metrics string) {
	t.Helper()
	if c.Concurrent == 0 {
		c.Concurrent = 2
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30
	}
	metrics = freePort(t)
	cfg := fmt.Sprintf(`concurrent = %d
check_interval = 1
listen_address = %q
shutdown_timeout = %d
node_name = %q
log_level = "debug"
%s
[[runners]]
name = "e2e"
url = %q
token = %q
executor = "docker"
limit = %d
builds_dir = %q
output_limit = %d
%s
[runners.docker]
image = %q
pull_policy = ["never"]
memory = "256m"
pids_limit = 512
%s
[runners.cache]
dir = %q
`, c.Concurrent, metrics, c.ShutdownTimeout, node, c.Global, srv.URL(), tok, c.Limit,
		filepath.Join(dir, "builds"), max(c.OutputLimitKiB, 8192), c.Runner, testImage, c.Extra, filepath.Join(dir, "cache"))
	path = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, metrics
}

// startAgent starts `runner run` against srv with a fresh runner token.
func startAgent(t testing.TB, srv *gitlabtest.Server, c agentConfig) *agent {
	t.Helper()
	tok := fmt.Sprintf("glrt-%020d", time.Now().UnixNano()%1e12*7919)
	srv.AddRunner(tok)
	dir := t.TempDir()
	node := nodeName(t)
	cfg, metrics := writeConfig(t, dir, node, srv, tok, c)
	return startAgentWith(t, cfg, node, dir, metrics)
}

func startAgentWith(t testing.TB, cfg, node, dir, metrics string) *agent {
	t.Helper()
	a := &agent{t: t, node: node, dir: dir, metrics: metrics, out: &syncBuffer{}, done: make(chan struct{})}
	a.cmd = exec.Command(runnerBin, "run", "--config", cfg)
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	a.cmd.Env = append(os.Environ(), "RUNFLEET_CONFIG=")
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
			keepAgentLog(t, node, a.out.String())
		}
		reapNode(t, node)
	})
	return a
}

func (a *agent) signal(sig syscall.Signal) {
	if a.cmd.Process != nil {
		_ = a.cmd.Process.Signal(sig)
	}
}

// stop sends SIGTERM and waits for the agent to exit.
func (a *agent) stop(timeout time.Duration) error {
	a.signal(syscall.SIGTERM)
	select {
	case <-a.done:
		return a.err
	case <-time.After(timeout):
		a.t.Fatalf("agent did not exit within %s after SIGTERM", timeout)
		return nil
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// leftovers lists containers, networks and volumes labelled for node.
func leftovers(t testing.TB, node string) []string {
	t.Helper()
	c := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a poll of a wedged engine fails, not hangs
	defer cancel()
	f := filters.NewArgs(filters.Arg("label", executors.LabelNode+"="+node))
	var out []string
	cs, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range cs {
		out = append(out, "container "+x.ID[:12]+" "+x.State)
	}
	ns, err := c.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ns {
		out = append(out, "network "+x.Name)
	}
	vs, err := c.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range vs.Volumes {
		out = append(out, "volume "+x.Name)
	}
	return out
}

// reapNode removes whatever a test's agent left (after a SIGKILL, say).
// An engine request the agent made just before it died (a warm network
// or sources helper being created) may create its object after a first
// pass: a pass that found something is followed by another, a second
// later, at most three.
func reapNode(t testing.TB, node string) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for pass := 0; pass < 3 && reapPass(ctx, c, node) > 0; pass++ {
		time.Sleep(time.Second)
	}
}

// reapPass removes node's containers, networks and volumes once and
// returns how many it found.
func reapPass(ctx context.Context, c *client.Client, node string) int {
	f := filters.NewArgs(filters.Arg("label", executors.LabelNode+"="+node))
	cs, _ := c.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	for _, x := range cs {
		_ = c.ContainerRemove(ctx, x.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}
	ns, _ := c.NetworkList(ctx, network.ListOptions{Filters: f})
	for _, x := range ns {
		_ = c.NetworkRemove(ctx, x.ID)
	}
	vs, _ := c.VolumeList(ctx, volume.ListOptions{Filters: f})
	for _, x := range vs.Volumes {
		_ = c.VolumeRemove(ctx, x.Name, true)
	}
	return len(cs) + len(ns) + len(vs.Volumes)
}

// agentWaitDelay bounds how long cmd.Wait waits for a dead agent's output
// pipes to close: a child that inherited them (a helper, a shim) would
// otherwise keep Wait, and the test, hanging after the agent is gone.
const agentWaitDelay = 10 * time.Second

// agentExitWait bounds the wait for a killed agent's exit to be reaped.
const agentExitWait = agentWaitDelay + 20*time.Second

// probeClient is the HTTP client of probes of agents and fakes: its
// timeout bounds each call, so a peer that accepts and never answers fails
// the waitFor that polls it at its deadline instead of hanging it.
func probeClient() *http.Client { return &http.Client{Timeout: 10 * time.Second} }

// combinedOutput runs cmd and returns its combined output; a command
// still running after timeout is killed and fails the test, naming what
// it waited for.
func combinedOutput(t testing.TB, cmd *exec.Cmd, timeout time.Duration, what string) ([]byte, error) {
	t.Helper()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = agentWaitDelay
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return []byte(out.String()), err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		t.Fatalf("timed out after %s waiting for %s; output:\n%s", timeout, what, tail(out.String(), 4000))
		return nil, nil
	}
}

// waitDone waits for done to close or fails the test after timeout,
// naming what it waited for.
func waitDone(t testing.TB, done <-chan struct{}, timeout time.Duration, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// keepAgentLog writes a failed test's whole agent log into
// $RUNFLEET_E2E_LOGDIR, when set (the test output shows only its tail).
func keepAgentLog(t testing.TB, node, log string) {
	dir := os.Getenv("RUNFLEET_E2E_LOGDIR")
	if dir == "" {
		return
	}
	p := filepath.Join(dir, node+".log")
	if err := os.WriteFile(p, []byte(log), 0o600); err != nil {
		t.Logf("keeping the agent log: %v", err)
		return
	}
	t.Logf("whole agent log: %s", p)
}
