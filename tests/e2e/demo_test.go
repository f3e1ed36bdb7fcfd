package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/runfleet/runfleet/autoscaler/provider"
	"github.com/runfleet/runfleet/executors"
)

// demoBinaries builds the autoscaler and the demo command (make demo's
// bin/autoscaler and bin/fleet-demo) into a test directory.
func demoBinaries(t *testing.T) (autoscaler, demo string) {
	t.Helper()
	dir := t.TempDir()
	autoscaler, demo = filepath.Join(dir, "autoscaler"), filepath.Join(dir, "fleet-demo")
	for bin, pkg := range map[string]string{autoscaler: "../../cmd/autoscaler", demo: "../../tests/demo/fleet"} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	return autoscaler, demo
}

// startDemo runs the demo command with a small burst on its own fleet.
func startDemo(t *testing.T, jobs int) (cmd *exec.Cmd, out *syncBuffer, fleet string, done chan error) {
	t.Helper()
	dockerClient(t) // fails loudly without an engine
	fleetBuildImage(t)
	autoscaler, demo := demoBinaries(t)
	fleet = fmt.Sprintf("e2edemo%d", time.Now().UnixNano()%1e8)
	out = &syncBuffer{}
	cmd = exec.Command(demo, "--autoscaler", autoscaler, "--image", fleetImage, "--job-image", testImage,
		"--fleet", fleet, "--jobs", fmt.Sprint(jobs), "--job-seconds", "1", "--max-nodes", "2",
		"--interval", "1s", "--timeout", "4m")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = agentWaitDelay
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("demo output:\n%s", tail(out.String(), 8000))
		}
	})
	return cmd, out, fleet, done
}

// waitDemo waits for the demo to end by itself; it has its own timeout.
func waitDemo(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(6 * time.Minute):
		t.Fatal("the demo did not end by itself within its timeout")
		return nil
	}
}

// checkNothingLeft fails when a container of the fleet, or a container,
// network or volume labelled with one of its nodes, is on the engine, or
// the demo's temporary directory still exists.
func checkNothingLeft(t *testing.T, fleet, output string) {
	t.Helper()
	ctx := context.Background()
	c := dockerClient(t)
	cs, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", provider.LabelFleet+"="+fleet))})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range cs {
		t.Errorf("node container %s left behind", x.Names)
	}
	prefix := "rf-" + fleet + "-"
	byNode := filters.NewArgs(filters.Arg("label", executors.LabelNode))
	jobs, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: byNode})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range jobs {
		if strings.HasPrefix(x.Labels[executors.LabelNode], prefix) {
			t.Errorf("job container %s of node %s left behind", x.Names, x.Labels[executors.LabelNode])
		}
	}
	nets, err := c.NetworkList(ctx, network.ListOptions{Filters: byNode})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		if strings.HasPrefix(n.Labels[executors.LabelNode], prefix) {
			t.Errorf("network %s left behind", n.Name)
		}
	}
	vols, err := c.VolumeList(ctx, volume.ListOptions{Filters: byNode})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vols.Volumes {
		if strings.HasPrefix(v.Labels[executors.LabelNode], prefix) {
			t.Errorf("volume %s left behind", v.Name)
		}
	}
	m := regexp.MustCompile(`--config (\S+)/fleet\.toml`).FindStringSubmatch(output)
	if m == nil {
		t.Fatal("the demo did not print its config path")
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("the demo's directory %s is still there (%v)", m[1], err)
	}
}

// TestDemoFleet: `make demo`'s command with a small burst scales the
// local fleet up, runs every job once, scales to zero, ends by itself and
// leaves nothing labelled behind.
func TestDemoFleet(t *testing.T) {
	_, out, fleet, done := startDemo(t, 4)
	if err := waitDemo(t, done); err != nil {
		t.Fatalf("the demo failed: %v", err)
	}
	o := out.String()
	// 4 jobs, then a second burst of 4 once the fleet is back to zero,
	// which starts the warm pool's stopped node containers.
	for _, want := range []string{"/metrics", "8/8 succeeded, 0 failed", "cleaned up:"} {
		if !strings.Contains(o, want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`node boots +(\d+)`).FindStringSubmatch(o); m == nil || m[1] == "0" {
		t.Errorf("no node boots reported: %v", m)
	}
	if m := regexp.MustCompile(`(\d+) warm \(a warm-pool`).FindStringSubmatch(o); m == nil || m[1] == "0" {
		t.Errorf("the second burst started no warm-pool node: %v", m)
	}
	checkNothingLeft(t, fleet, o)
}

// TestDemoFleetInterrupted: Ctrl-C while nodes run jobs still removes
// everything the demo started.
func TestDemoFleetInterrupted(t *testing.T) {
	cmd, out, fleet, done := startDemo(t, 4)
	waitFor(t, 2*time.Minute, "a running job", func() bool {
		return regexp.MustCompile(`jobs +\d+ queued · +[1-9]\d* running`).MatchString(out.String())
	})
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := waitDemo(t, done)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("exit %v, want status 130 after SIGINT", err)
	}
	if o := out.String(); !strings.Contains(o, "cleaned up:") {
		t.Error("the demo did not report its clean-up")
	}
	checkNothingLeft(t, fleet, out.String())
}
