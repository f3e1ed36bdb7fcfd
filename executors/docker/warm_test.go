package docker_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/docker"
)

func TestWarmNetworks(t *testing.T) {
	t.Parallel()
	node := uniqueNode(t)
	ex := newExecutor(t, node, func(o *docker.Options) { o.WarmNetworks = 1 })
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // engine calls fail rather than hang
	defer cancel()
	spec := func(id string) executors.Spec {
		return executors.Spec{JobID: id, Node: node, Image: executors.Image{Name: testImage, PullPolicy: executors.PullNever}}
	}
	first, err := ex.Create(ctx, spec(node+"-a"))
	if err != nil {
		t.Fatal(err)
	}
	// The first job made its own network and started the filler.
	waitWarm(t, ex, node)
	// Reap must leave the warm network alone: it is owned.
	if err := ex.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	if !hasWarm(t, node) {
		t.Fatal("Reap removed a warm network")
	}
	second, err := ex.Create(ctx, spec(node+"-b"))
	if err != nil {
		t.Fatal(err)
	}
	// The second job took the warm network instead of creating its own.
	if slices.Contains(leftovers(t, node), "network runfleet-"+node+"-b") {
		t.Fatalf("the second job created its own network although one was warm: %v", leftovers(t, node))
	}
	// Taking it refills the pool, after the job's own engine calls.
	waitWarm(t, ex, node)
	if n := warmCount(t, node); n != 2 {
		t.Fatalf("want the taken warm network and a new one, got %d: %v", n, leftovers(t, node))
	}
	var out bytes.Buffer
	if res, err := second.Exec(ctx, executors.Step{Script: "cat /etc/hostname >/dev/null && echo ok"}, &out); err != nil || res.ExitCode != 0 {
		t.Fatalf("exec on a warm network: %v %+v %s", err, res, out.String())
	}
	for _, env := range []executors.Env{first, second} {
		if err := env.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := ex.Close(); err != nil {
		t.Fatal(err)
	}
	if l := leftovers(t, node); len(l) > 0 {
		t.Fatalf("leftovers after Close: %v", l)
	}
}

// waitWarm waits until ex's pool holds a network ready for a job.
func waitWarm(t *testing.T, ex *docker.Executor, node string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for docker.WarmReady(ex) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no warm network became ready within 30s: %v", leftovers(t, node))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hasWarm reports whether a warm network labelled for node exists.
func hasWarm(t *testing.T, node string) bool {
	return warmCount(t, node) > 0
}

// warmCount is how many networks labelled for node were created warm,
// taken by a job or not.
func warmCount(t *testing.T, node string) int {
	n := 0
	for _, l := range leftovers(t, node) {
		if strings.Contains(l, "runfleet-warm-") {
			n++
		}
	}
	return n
}
