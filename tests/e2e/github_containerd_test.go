package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/containerd"
	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/github/githubtest"
	"github.com/runfleet/runfleet/runner/github/scalesettest"
)

// ctrdExecutor connects to containerd with the e2e agent's namespace,
// state directory and job network (containerd_test.go), for node. It
// fails the test when containerd does not answer.
func ctrdExecutor(t testing.TB, node string) *containerd.Executor {
	t.Helper()
	ex, err := containerd.New(containerd.Options{
		Address: containerdAddress(), Namespace: ctrdNamespace, Node: node, StateDir: ctrdStateDir,
		Bridge: ctrdBridge, Subnet: ctrdSubnet, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("containerd (CONTAINERD_ADDRESS=%q) is needed by this test: %v", containerdAddress(), err)
	}
	return ex
}

// importStubIntoContainerd copies the stand-in runner image from Docker
// into the agent's containerd namespace (no registry is reachable).
func importStubIntoContainerd(t testing.TB, ex *containerd.Executor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dc := dockerClient(t)
	if _, err := dc.ImageInspect(ctx, githubStubImage); err != nil {
		t.Fatalf("image %s is missing: run 'make images' (%v)", githubStubImage, err)
	}
	rc, err := dc.ImageSave(ctx, []string{githubStubImage})
	if err != nil {
		t.Fatalf("docker save %s: %v", githubStubImage, err)
	}
	defer rc.Close()
	if _, err := ex.ImportArchive(ctx, rc); err != nil {
		t.Fatalf("importing %s into containerd: %v", githubStubImage, err)
	}
}

// ctrdBridgeGateway returns the host's IPv4 address on the e2e job
// network's bridge, where runner containers of the containerd executor
// reach the host (the bridge plugin makes it the gateway). The bridge
// exists once a container was attached to it: when it is missing, a
// throwaway container of setupNode brings it up.
func ctrdBridgeGateway(t testing.TB, ex *containerd.Executor, setupNode string) string {
	t.Helper()
	if gw := ifaceIPv4(ctrdBridge); gw != "" {
		return gw
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env, err := ex.Create(ctx, executors.Spec{JobID: "bridge-probe", Node: setupNode,
		Image: executors.Image{Name: githubStubImage, PullPolicy: executors.PullNever}})
	if err != nil {
		t.Fatalf("a container on the containerd job network: %v", err)
	}
	if err := env.Close(ctx); err != nil {
		t.Fatalf("removing the probe container: %v", err)
	}
	gw := ifaceIPv4(ctrdBridge)
	if gw == "" {
		t.Fatalf("the containerd job bridge %s has no IPv4 address", ctrdBridge)
	}
	return gw
}

// ifaceIPv4 is the first IPv4 address of interface name, "" when none.
func ifaceIPv4(name string) string {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return ""
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// ctrdGitHubSetup imports the stand-in runner image into containerd and
// returns the address on the containerd job bridge where a fake GitHub
// is to listen.
func ctrdGitHubSetup(t testing.TB) string {
	t.Helper()
	setupNode := nodeName(t) + "-setup"
	setup := ctrdExecutor(t, setupNode)
	defer setup.Close()
	importStubIntoContainerd(t, setup)
	return ctrdBridgeGateway(t, setup, setupNode)
}

// startCtrdAgent is startAgentWith for an agent on containerd: after the
// test it also removes what a killed agent left in containerd.
func startCtrdAgent(t testing.TB, cfg, node, dir, metrics string) *agent {
	t.Helper()
	// Registered before the agent's cleanup, so it runs after the kill.
	t.Cleanup(func() {
		ex := ctrdExecutor(t, node)
		defer ex.Close()
		if err := ex.Reap(context.Background()); err != nil {
			t.Logf("reaping node %s in containerd: %v", node, err)
		}
	})
	return startAgentWith(t, cfg, node, dir, metrics)
}

// TestGitHubContainerdLabelModeJob: with executor = "containerd" a
// [[github]] source runs its ephemeral JIT runners in containerd: the
// job sees the JIT runner's name, the image's unprivileged user, the
// shared tool cache and no platform credential; the job hooks write to
// the runner's state directory (/runfleet/state) and the agent reads
// them; the slot refills, and a clean stop leaves no registration, no
// containerd object and no state behind.
func TestGitHubContainerdLabelModeJob(t *testing.T) {
	gw := ctrdGitHubSetup(t)
	srv := githubtest.New(t, githubtest.WithListenAddress(gw+":0"))
	srv.AddRepo("acme/app")

	dir := t.TempDir()
	cfgPath, node, metrics := githubAgentConfig(t, srv, dir, 1)
	// The [[github]] table is the file's last: its executor and engine.
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, "executor = \"containerd\"\n[github.containerd]\naddress = %q\nnamespace = %q\nstate_dir = %q\nbridge = %q\nsubnet = %q\n",
		containerdAddress(), ctrdNamespace, ctrdStateDir, ctrdBridge, ctrdSubnet)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	tools := filepath.Join(dir, "toolcache")
	if err := os.MkdirAll(filepath.Join(tools, "node"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tools, "node", "version"), []byte("tool-20.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startCtrdAgent(t, cfgPath, node, dir, metrics)

	idle := srv.WaitRunners(t, time.Minute, "an idle runner online", func(rs []githubtest.RunnerInfo) bool {
		return len(rs) == 1 && rs[0].Status == "online"
	})
	if l := ctrdLeftovers(t, node); !containsPrefix(l, "container runfleet-") {
		t.Fatalf("the idle runner is not a containerd container of the node: %q", l)
	}
	if l := leftovers(t, node); len(l) != 0 {
		t.Fatalf("a containerd runner made Docker objects: %q", l)
	}
	id := srv.Enqueue(githubtest.JobSpec{Repo: "acme/app", Labels: []string{"self-hosted", "linux"}, Script: []string{
		"echo job ran on $RUNFLEET_RUNNER_NAME",
		"test \"$(id -u)\" = 1001",
		"test -z \"$GITHUB_TOKEN$RUNFLEET_TOKEN\"",
		"echo tools=$(cat $RUNNER_TOOL_CACHE/node/version)",
		"test -w /runfleet/state && echo state-writable",
		"test ! -e /run/containerd/containerd.sock && test ! -e /var/run/docker.sock && echo no-engine-socket",
	}})
	j := srv.WaitCompleted(t, id, 2*time.Minute)
	if j.Conclusion != "success" {
		t.Fatalf("job: %+v", j)
	}
	for _, want := range []string{"job ran on " + node, "tools=tool-20.1", "state-writable", "no-engine-socket"} {
		if !strings.Contains(j.Output, want) {
			t.Fatalf("job output lacks %q:\n%s", want, j.Output)
		}
	}
	if j.RunnerName != idle[0].Name {
		t.Fatalf("job ran on %q, want the warm runner %q", j.RunnerName, idle[0].Name)
	}
	srv.WaitRunners(t, time.Minute, "a fresh idle runner", func(rs []githubtest.RunnerInfo) bool {
		return len(rs) == 1 && rs[0].Name != j.RunnerName && rs[0].Status == "online"
	})
	// The hooks recorded the job in the runner's state directory.
	waitFor(t, time.Minute, "the agent reading the job hooks", func() bool {
		return strings.Contains(a.out.String(), "job_duration=")
	})
	if err := a.stop(time.Minute); err != nil {
		t.Fatalf("agent exit: %v\n%s", err, tail(a.out.String(), 4000))
	}
	if rs := nodeRunners(srv, node); len(rs) != 0 {
		t.Fatalf("registrations left after shutdown: %+v", rs)
	}
	if l := ctrdLeftovers(t, node); len(l) != 0 {
		t.Fatalf("left in containerd after shutdown: %q", l)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "state", "gh")); len(ents) != 0 {
		t.Fatalf("runner state left after shutdown: %v", ents)
	}
	if strings.Contains(a.out.String(), "ghp_e2e") {
		t.Fatal("the token appears in the agent log")
	}
}

// containsPrefix reports whether an element of l starts with p.
func containsPrefix(l []string, p string) bool {
	for _, s := range l {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// TestGitHubContainerdScaleSetAgent: `runner run` with a
// [[github_scale_set]] table on executor "containerd" keeps an idle
// runner in containerd, runs a queued job on it, and on shutdown leaves
// no registration and no containerd object behind.
func TestGitHubContainerdScaleSetAgent(t *testing.T) {
	gw := ctrdGitHubSetup(t)
	fake := scalesettest.New(t, scalesettest.Options{Token: scalesetPAT, ListenAddress: gw + ":0", PollTimeout: 2 * time.Second})
	dir := t.TempDir()
	node := nodeName(t)
	cfgPath, metrics := scaleSetAgentConfig(t, fake, dir, node, "ctrd-fleet", fmt.Sprintf(`executor = "containerd"
[github_scale_set.containerd]
address = %q
namespace = %q
state_dir = %q
bridge = %q
subnet = %q
`, containerdAddress(), ctrdNamespace, ctrdStateDir, ctrdBridge, ctrdSubnet))
	a := startCtrdAgent(t, cfgPath, node, dir, metrics)
	waitFor(t, time.Minute, "an idle runner online", func() bool {
		rs := fake.Runners()
		return len(rs) == 1 && rs[0].Online && strings.HasPrefix(rs[0].Name, node+"-")
	})
	if l := ctrdLeftovers(t, node); !containsPrefix(l, "container runfleet-") {
		t.Fatalf("the idle runner is not a containerd container of the node: %q", l)
	}
	id := fake.QueueJob(scalesettest.Job{Labels: []string{"ctrd-fleet"}, Steps: []string{"echo ran on $RUNFLEET_RUNNER_NAME", "test \"$(id -u)\" = 1001"}})
	var j scalesettest.JobStatus
	waitFor(t, 2*time.Minute, "the job completed", func() bool {
		j, _ = fake.Job(id)
		return j.State == scalesettest.JobCompleted
	})
	if j.Result != "succeeded" || !strings.Contains(j.Output, "ran on "+node) {
		t.Fatalf("job %+v", j)
	}
	waitFor(t, time.Minute, "a fresh idle runner", func() bool {
		rs := fake.Runners()
		return len(rs) == 1 && rs[0].Online && rs[0].Name != j.RunnerName
	})
	if err := a.stop(time.Minute); err != nil {
		t.Fatalf("agent exit: %v\n%s", err, tail(a.out.String(), 4000))
	}
	if rs := fake.Runners(); len(rs) != 0 {
		t.Fatalf("registrations left after shutdown: %+v", rs)
	}
	if l := ctrdLeftovers(t, node); len(l) != 0 {
		t.Fatalf("left in containerd after shutdown: %q", l)
	}
	if strings.Contains(a.out.String(), scalesetPAT) {
		t.Fatal("the token appears in the agent log")
	}
}

// TestGitHubRegisterContainerd: `runner register --executor containerd`
// for GitHub writes a [[github]] / [[github_scale_set]] table on
// containerd that loads; an unknown executor is refused with the config
// untouched.
func TestGitHubRegisterContainerd(t *testing.T) {
	t.Parallel()
	const pat = "ghp_registerCtrd0000000000000000000001"
	srv := githubtest.New(t)
	srv.AddRepo("acme/app")
	srv.AddPAT(pat, "orgs/acme")
	ss := scalesettest.New(t, scalesettest.Options{Token: pat})
	cfg := filepath.Join(t.TempDir(), "config.toml")
	gh := func(args ...string) (string, error) {
		return runCLI(t, append([]string{"register", "--non-interactive", "--platform", "github", "--config", cfg, "--token", pat}, args...)...)
	}
	out, err := gh("--url", srv.URL()+"/acme", "--executor", "podman")
	if err == nil || !strings.Contains(out, `executor "podman" is not supported`) {
		t.Fatalf("unknown executor: err=%v\n%s", err, out)
	}
	if _, err := os.Stat(cfg); !os.IsNotExist(err) {
		t.Fatalf("a refused registration created the config: %v", err)
	}
	if out, err := gh("--url", srv.URL()+"/acme", "--name", "gh-ctrd", "--executor", "containerd"); err != nil {
		t.Fatalf("register on containerd: %v\n%s", err, out)
	}
	if out, err := gh("--url", ss.ConfigURL("acme"), "--scale-set", "ctrd-set", "--executor", "containerd"); err != nil {
		t.Fatalf("register a scale set on containerd: %v\n%s", err, out)
	}
	c, err := config.Load(cfg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if len(c.GitHub) != 1 || c.GitHub[0].Executor != "containerd" || len(c.GitHubScaleSets) != 1 || c.GitHubScaleSets[0].Executor != "containerd" {
		t.Fatalf("loaded: %+v %+v", c.GitHub, c.GitHubScaleSets)
	}
}
