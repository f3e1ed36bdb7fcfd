package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dockerprov "github.com/runfleet/runfleet/autoscaler/provider/docker"
	"github.com/runfleet/runfleet/runner/github/githubtest"
)

// TestGitHubFleetCredentials: `autoscaler run` with [github_jit] holds the
// GitHub App key; the node it launches (a real node container of the
// docker provider) has a [[github]] table with credentials = "fleet" and
// no key, mints its JIT runner through the control plane and runs a job
// to completion on the fake GitHub. The key is nowhere in the node: not in
// its config, its environment, its mounts nor its directory.
func TestGitHubFleetCredentials(t *testing.T) {
	dockerClient(t) // fails loudly without an engine
	fleetBuildImage(t)
	autoscaler, _ := demoBinaries(t)
	gh := newGitHubFake(t)
	key := gh.AddApp(4242, 777, "acme")

	dir := t.TempDir() // the control plane's; nodes see only dir/nodes/NAME
	fleet := fmt.Sprintf("e2ejit%d", time.Now().UnixNano()%1e8)
	keyFile := filepath.Join(dir, "app.pem")
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("app.pem", string(key))
	write("join-token", fmt.Sprintf("join-%d\n", time.Now().UnixNano()))
	nodeCfg := write("node.toml", fmt.Sprintf(`concurrent = 1
check_interval = 1
shutdown_timeout = 20
log_level = "debug"

[[github]]
name = "gh"
credentials = "fleet"
labels = ["self-hosted", "linux"]
runner_image = %q
pull_policy = "never"
memory = "256m"
pids_limit = 512
`, githubStubImage))
	fleetAddr, adminAddr := freePort(t), freePort(t)
	cfg := write("autoscaler.toml", fmt.Sprintf(`fleet = %q
listen_address = %q
admin_address = %q
join_token_file = %q
store = %q
reconcile_interval = "1s"
heartbeat_interval = "1s"
heartbeat_grace = "20s"
boot_timeout = "1m"

[provider]
type = "docker"

[provider.docker]
image = %q
node_config = %q
state_dir = %q
slots = 1
max_nodes = 1
allow_host_docker_socket = true

[[pools]]
name = "linux"
labels = ["self-hosted", "linux"]
slots_per_node = 1
min_nodes = 1
max_nodes = 1
scale_down_delay = "10m"

[github_jit]
url = %q
app_id = 4242
installation_id = 777
private_key_file = %q

[github_jit.pools.linux]
labels = ["self-hosted", "linux"]
`, fleet, fleetAddr, adminAddr, filepath.Join(dir, "join-token"), filepath.Join(dir, "fleet.db"),
		fleetImage, nodeCfg, filepath.Join(dir, "nodes"), gh.URL()+"/acme", keyFile))

	// A provider on the same fleet, to find and remove the node containers.
	nodes, err := dockerprov.New(dockerprov.Options{Fleet: fleet, Image: fleetImage, NodeConfig: []byte("concurrent = 1\n"),
		StateDir: filepath.Join(dir, "nodes"), AllowHostDockerSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cp := exec.Command(autoscaler, "run", "--config", cfg)
	cp.Stdout, cp.Stderr = out, out
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cp.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cp.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cp.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("control plane log:\n%s", tail(out.String(), 8000))
		}
		f := &fleetEnv{t: t, name: fleet, docker: nodes}
		if t.Failed() {
			f.nodeLogs()
		}
		f.removeAll()
		nodes.Close()
	})

	// The node's idle runner comes up, minted through the control plane.
	idle := gh.WaitRunners(t, 3*time.Minute, "the node's idle runner online", func(rs []githubtest.RunnerInfo) bool {
		return len(rs) == 1 && rs[0].Status == "online"
	})
	insts, err := nodes.List(context.Background())
	if err != nil || len(insts) != 1 {
		t.Fatalf("node containers: %+v %v, want 1", insts, err)
	}
	node := insts[0]
	if !strings.HasPrefix(idle[0].Name, node.Name+"-") {
		t.Fatalf("runner %q is not named for node %s", idle[0].Name, node.Name)
	}
	id := gh.Enqueue(githubtest.JobSpec{Repo: "acme/app", Labels: []string{"self-hosted", "linux"},
		Script: []string{"echo job ran on $RUNFLEET_RUNNER_NAME", "test -z \"$GITHUB_TOKEN$RUNFLEET_TOKEN\""}})
	j := gh.WaitCompleted(t, id, 3*time.Minute)
	if j.Conclusion != "success" || j.RunnerName != idle[0].Name {
		t.Fatalf("job: %+v, want success on %s", j, idle[0].Name)
	}
	gh.WaitRunners(t, 2*time.Minute, "a fresh idle runner of the node", func(rs []githubtest.RunnerInfo) bool {
		return len(rs) == 1 && rs[0].Name != j.RunnerName && strings.HasPrefix(rs[0].Name, node.Name+"-")
	})
	if v := gh.Violations(); len(v) > 0 {
		t.Errorf("GitHub protocol violations: %v", v)
	}

	// The App key is on the control plane only.
	ci, err := dockerClient(t).ContainerInspect(context.Background(), node.ProviderID)
	if err != nil {
		t.Fatal(err)
	}
	pem := bytes.TrimSpace(key)
	for _, e := range ci.Config.Env {
		if strings.Contains(e, "PRIVATE KEY") || strings.Contains(e, keyFile) {
			t.Errorf("node environment carries the App key: %.40s…", e)
		}
	}
	for _, m := range ci.Mounts {
		if strings.HasPrefix(keyFile, m.Source+"/") || m.Source == keyFile {
			t.Errorf("node mount %s → %s exposes the App key file", m.Source, m.Destination)
		}
	}
	nodeDir := filepath.Join(dir, "nodes", node.Name)
	files := 0
	err = filepath.WalkDir(nodeDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // a runner's file only its container may read
		}
		if bytes.Contains(b, pem) || bytes.Contains(b, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds the App key", p)
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("walking the node directory %s: %v (%d files)", nodeDir, err, files)
	}
	nodeText, err := os.ReadFile(nodeCfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"private_key", "app_id", "token"} {
		if bytes.Contains(nodeText, []byte(k)) {
			t.Errorf("the node config has %q", k)
		}
	}
	if !strings.Contains(out.String(), "minted a GitHub JIT runner for a node") {
		t.Error("the control plane logged no mint for the node")
	}
}
