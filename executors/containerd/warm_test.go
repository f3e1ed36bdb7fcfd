package containerd_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/containerd"
)

// TestWarmNetworkNamespaces: with WarmNetworks, a job with a per-job
// network takes a namespace set up ahead instead of setting up its own;
// Reap leaves the warm ones alone; a taken one works as the job's network
// and goes with the job; Close tears down the ones nobody took.
func TestWarmNetworkNamespaces(t *testing.T) {
	t.Parallel()
	node := uniqueNode(t)
	ex := newExecutor(t, node, func(o *containerd.Options) { o.WarmNetworks = 1 })
	ctx := context.Background()
	spec := func(id string) executors.Spec {
		return executors.Spec{JobID: id, Node: node, Image: executors.Image{Name: testImage, PullPolicy: executors.PullNever}}
	}
	first, err := ex.Create(ctx, spec("job-a"))
	if err != nil {
		t.Fatal(err)
	}
	// The first job set up its own namespace and started the filler.
	waitWarmNS(t, ex)
	if err := ex.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	warm := warmDirs(t, node)
	if len(warm) != 1 {
		t.Fatalf("after Reap, want the one warm namespace, have %q", leftovers(t, node))
	}
	second, err := ex.Create(ctx, spec("job-b"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, node, "job-b", "net-job")); err == nil {
		t.Fatal("the second job set up its own namespace although one was warm")
	}
	var out bytes.Buffer
	res, err := second.Exec(ctx, executors.Step{Script: "ip -4 -o addr show eth0; ip route | grep -c '^default'"}, &out)
	if err != nil || res.ExitCode != 0 || !strings.Contains(out.String(), "inet 10.") || !strings.HasSuffix(out.String(), "1\n") {
		t.Fatalf("the job on a warm namespace has no bridge address and default route: %v %+v %q", err, res, out.String())
	}
	waitWarmNS(t, ex) // taking it refilled the pool
	if err := second.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(warmDirs(t, node), warm[0]) {
		t.Errorf("the taken warm namespace %s outlived its job", warm[0])
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ex.Close(); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, node); len(left) != 0 {
		t.Errorf("after the jobs and Close: %q", left)
	}
}

// waitWarmNS waits until the pool holds a ready namespace.
func waitWarmNS(t *testing.T, ex *containerd.Executor) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for containerd.WarmReady(ex) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for a warm network namespace")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// warmDirs lists the node's warm namespace directories.
func warmDirs(t *testing.T, node string) []string {
	t.Helper()
	var out []string
	for _, l := range leftovers(t, node) {
		if name, ok := strings.CutPrefix(l, "state "); ok && strings.HasPrefix(name, "warm-") {
			out = append(out, name)
		}
	}
	return out
}
